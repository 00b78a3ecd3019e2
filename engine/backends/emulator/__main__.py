"""`qstore-tui emulator`: serve the IonQ emulator on 127.0.0.1 until interrupted.

    QSTORE_EMULATOR_KEY=... python -m engine.backends.emulator --port 8765 --latency-ms 100 --queue-s 1 \
        --fault 429:0.1 --fault late-post:0.05:'POST /jobs' --characterization qpu.forte-1=forte.json

The accepted key comes from the environment (QSTORE_EMULATOR_KEY, else IONQ_API_KEY) or from a file
(`--key-file`, one key per line), never from the command line, where `ps` shows it to every user.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

from ...circuits.errors import shown
from ...fileio import error_text, write_error
from .faults import FAULT_KINDS, Fault, parse_fault_spec
from ...sim.noise import NOISE_MODELS, CharacterizationError, NoiseModel, noise_model_from_characterization
from .jobs import Timing
from .server import DEFAULT_KEY, PREFIX, Emulator, EmulatorServer, EmulatorSettings

KEY_ENV = ("QSTORE_EMULATOR_KEY", "IONQ_API_KEY")
KEY_ON_COMMAND_LINE = ("--key is not accepted: a key on the command line is visible to every user of the machine "
                       "(ps); set QSTORE_EMULATOR_KEY (or IONQ_API_KEY) or use --key-file PATH")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qstore-tui emulator", description="Serve a local IonQ v0.4 API on 127.0.0.1.")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request")
    p.add_argument("--queue-s", type=float, default=0.0, help="time each job waits in the queue")
    p.add_argument("--job-s", type=float, default=0.0, help="fixed execution time of each job")
    p.add_argument("--gate-s", type=float, default=0.0, help="execution time per gate")
    p.add_argument("--shot-s", type=float, default=0.0, help="execution time per shot and circuit")
    p.add_argument("--parallel-jobs", type=int, default=None,
                   help="jobs that may execute at once (default: no limit; 1 behaves like a QPU)")
    p.add_argument("--results-style", choices=("artifact", "url"), default="artifact")
    p.add_argument("--key", action="append", dest="keys", metavar="KEY", help=argparse.SUPPRESS)
    p.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                   help="file of accepted API keys, one per line (default: $QSTORE_EMULATOR_KEY, else "
                        f"$IONQ_API_KEY, else the test key {DEFAULT_KEY!r})")
    p.add_argument("--seed", type=int, default=None, help="seed for noisy sampling and probabilistic faults")
    kinds = ", ".join(k.replace("_", "-") for k in FAULT_KINDS)
    p.add_argument("--fault", action="append", dest="faults", default=[], metavar="KIND:P[:ENDPOINT]",
                   help=f"inject a fault into each matching request with probability P (repeatable); "
                        f"ENDPOINT like 'POST /jobs' (default: every endpoint). Kinds: {kinds}")
    p.add_argument("--fault-delay-s", type=float, default=2.0,
                   help="how long slow and late-post faults hold a request (default 2)")
    p.add_argument("--retry-after-s", type=float, default=1.0, help="Retry-After of injected 429s (default 1)")
    p.add_argument("--characterization", action="append", default=[], metavar="BACKEND=PATH",
                   help="serve this characterization JSON for a QPU backend and build its noise model from it "
                        "(e.g. qpu.forte-1=forte.json, a body saved from IonQ)")
    return p


def _keys(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Accepted keys: --key-file, else the environment, else the built-in test key."""
    if args.keys:
        raise ValueError(KEY_ON_COMMAND_LINE)
    if args.key_file is not None:
        try:
            text = args.key_file.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"--key-file {args.key_file}: {write_error(args.key_file, e).reason}") from None
        keys = tuple(line.strip() for line in text.splitlines() if line.strip())
        if not keys:
            raise ValueError(f"--key-file {args.key_file}: no key in the file")
        return keys
    for name in KEY_ENV:
        if environ.get(name, "").strip():
            return (environ[name].strip(),)
    return (DEFAULT_KEY,)


def _characterizations(specs: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, NoiseModel]]:
    """The bodies of `--characterization BACKEND=PATH` and their noise models; ValueError naming the option, the
    file and the target (a body of another backend would give this one its figures silently)."""
    bodies: dict[str, dict[str, Any]] = {}
    models: dict[str, NoiseModel] = {}
    for spec in specs:
        backend, sep, path = spec.partition("=")
        if not sep or not backend or not path:
            raise ValueError(f"--characterization {spec!r}: expected BACKEND=PATH, e.g. qpu.forte-1=forte.json")
        name = backend.removeprefix("qpu.")
        if not backend.startswith("qpu.") or name not in NOISE_MODELS:
            qpus = ", ".join(f"qpu.{n}" for n in NOISE_MODELS)
            raise ValueError(f"--characterization {spec!r}: {backend!r} is not a QPU backend of the emulator "
                             f"(expected one of {qpus})")
        try:
            body = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ValueError(f"--characterization {spec!r}: cannot read {path}: {write_error(path, e).reason}") \
                from None
        except ValueError as e:
            raise ValueError(f"--characterization {spec!r}: {path} is not valid JSON: {e}") from None
        except RecursionError:  # json's recursion limit: a broken file, never an internal error
            raise ValueError(f"--characterization {spec!r}: {path} is nested too deeply to be a characterization") \
                from None
        if isinstance(body, dict) and isinstance(body.get("characterizations"), list) and body["characterizations"]:
            body = body["characterizations"][0]  # a saved page: its newest entry
        if not isinstance(body, dict):
            raise ValueError(f"--characterization {spec!r}: {path} does not hold a characterization object")
        of = body.get("backend")
        if of is not None and of != backend:
            raise ValueError(f"--characterization {spec!r}: {path} is a characterization of {shown(of)}, not of "
                             f"{backend!r}")
        try:
            models[name] = noise_model_from_characterization(body, name=name, defaults=NOISE_MODELS[name])
        except CharacterizationError as e:
            raise ValueError(f"--characterization {spec!r}: {path} (for {backend}): {e}") from None
        bodies[backend] = body
    return bodies, models


def endpoints() -> list[str]:
    """The endpoint labels a fault can name ("GET /jobs/{id}"), as the emulator labels its requests."""
    routes = Emulator(EmulatorSettings()).app().router.routes()
    return sorted({f"{r.method} {r.resource.canonical.removeprefix(PREFIX)}" for r in routes
                   if r.method != "HEAD" and r.resource is not None})


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> EmulatorSettings:
    """The settings the parsed arguments describe; ValueError naming the option for a bad value."""
    keys = _keys(args, os.environ if environ is None else environ)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    if args.parallel_jobs is not None and args.parallel_jobs < 1:
        raise ValueError(f"--parallel-jobs must be at least 1, got {args.parallel_jobs}")
    for name in ("latency_ms", "queue_s", "job_s", "gate_s", "shot_s", "fault_delay_s", "retry_after_s"):
        value = getattr(args, name)
        if not 0 <= value < math.inf:  # nan and inf too: a job that never finishes is not a timing
            raise ValueError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    timing = Timing(queue_s=args.queue_s, job_overhead_s=args.job_s, exec_per_gate_s=args.gate_s,
                    exec_per_shot_s=args.shot_s, max_parallel_jobs=args.parallel_jobs)
    faults: list[Fault] = [parse_fault_spec(f, delay_s=args.fault_delay_s, retry_after=args.retry_after_s)
                           for f in args.faults]
    known = endpoints()
    for spec, f in zip(args.faults, faults):  # a fault on an endpoint the emulator has never fires
        if f.endpoint != "*" and f.endpoint not in known:
            raise ValueError(f"--fault {spec!r}: no endpoint {f.endpoint!r}; expected '*' or one of "
                             f"{', '.join(known)}")
    # errors name the option, the file and the target
    characterizations, noise_models = _characterizations(args.characterization)
    return EmulatorSettings(port=args.port, api_keys=keys, latency_s=args.latency_ms / 1000.0, timing=timing,
                            results_style=args.results_style, seed=args.seed, faults=tuple(faults),
                            characterizations=characterizations, noise_models=noise_models)


def main_emulator(argv: list[str]) -> int:
    """Run until Ctrl-C or SIGTERM; return the exit code (130: interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    server = EmulatorServer(settings)
    try:
        url = server.start()
    except OSError as e:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {error_text(e)}", file=sys.stderr)
        return 2  # a port in use is the caller's to change, as for `serve` (1 is for a bug)
    print(f"IonQ emulator listening on {url}")
    print(f"  export IONQ_API_URL={url}")
    source = ("--key-file" if args.key_file is not None else
              next((f"${n}" for n in KEY_ENV if os.environ.get(n, "").strip()), f"the test key {DEFAULT_KEY!r}"))
    print(f"  {len(settings.api_keys)} accepted key(s) from {source}; Ctrl-C to stop")
    for f in settings.faults:
        print(f"  fault {f.kind.replace('_', '-')} on {f.endpoint} with probability {f.probability:g}")
    for name, builtin in NOISE_MODELS.items():
        print(f"  noise model {name}: {settings.noise_models.get(name, builtin).source}")
    sys.stdout.flush()
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    print("IonQ emulator stopped")
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        # a simulation thread cannot be stopped, and interpreter exit would join it: leave without waiting
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    return 130


if __name__ == "__main__":
    raise SystemExit(main_emulator(sys.argv[1:]))
