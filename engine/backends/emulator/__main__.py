"""`qstore-tui emulator`: serve the IonQ emulator on 127.0.0.1 until interrupted.

    python -m engine.backends.emulator --port 8765 --latency-ms 100 --queue-s 1 --key my-key
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .jobs import Timing
from .server import DEFAULT_KEY, EmulatorServer, EmulatorSettings


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
    p.add_argument("--key", action="append", dest="keys", metavar="KEY",
                   help=f"an accepted API key (repeatable; default: {DEFAULT_KEY!r})")
    p.add_argument("--seed", type=int, default=None, help="seed for noisy sampling")
    return p


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """The settings the parsed arguments describe; ValueError naming the option for a bad value."""
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    if args.parallel_jobs is not None and args.parallel_jobs < 1:
        raise ValueError(f"--parallel-jobs must be at least 1, got {args.parallel_jobs}")
    for name in ("latency_ms", "queue_s", "job_s", "gate_s", "shot_s"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    timing = Timing(queue_s=args.queue_s, job_overhead_s=args.job_s, exec_per_gate_s=args.gate_s,
                    exec_per_shot_s=args.shot_s, max_parallel_jobs=args.parallel_jobs)
    return EmulatorSettings(port=args.port, api_keys=tuple(args.keys or (DEFAULT_KEY,)),
                            latency_s=args.latency_ms / 1000.0, timing=timing, results_style=args.results_style,
                            seed=args.seed)


def main_emulator(argv: list[str]) -> int:
    """Run until Ctrl-C; return the exit code."""
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
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"IonQ emulator listening on {url}")
    print(f"  export IONQ_API_URL={url}")
    print(f"  {len(settings.api_keys)} accepted key(s); Ctrl-C to stop", flush=True)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main_emulator(sys.argv[1:]))
