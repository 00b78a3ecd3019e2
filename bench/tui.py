"""TUI responsiveness: launch to first frame, and key-press to screen-switch latency under training load.

1. First frame: a fresh `python` process builds the app (`make_app`) and runs it headless; the time
   from just before the process is spawned to the first screen update of the composed Config screen
   (the frame a terminal would be sent). The child also reports whether cirq was imported by then.
2. Key latency: in this process, the app starts a local training run going flat out (exact
   probabilities, no pauses), then a key (1-5 or F1-F5) is posted as a terminal would send it, N
   times; latency is from posting the key to the first refresh of the new screen.

3. Help: under the same load, `?` is posted on the Training screen; the time to the first refresh of
   the help screen, then Escape closes it. The first opening builds it from the bindings (reported on
   its own); later ones show the kept screen.

The peer of every number is the target: first frame <= 1.0 s, key latency p99 <= 100 ms, help open
p99 <= 100 ms (and its first opening <= 1 s). `--json` makes the last line one JSON object:
first_frame_s, key_latency_p50_ms, key_latency_p99_ms, help_first_open_ms, help_open_p50_ms, help_open_p99_ms,
and (no target, for finding what blocks) loop_stall_p99_ms, loop_stall_max_ms: how late a 5 ms sleep woke up
on the app's event loop during the key and help presses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_FRAME_TARGET_S = 1.0
KEY_P99_TARGET_MS = 100.0
HELP_P99_TARGET_MS = 100.0
LAG_PROBE_S = 0.005

_CHILD = r"""
import sys, time
from pathlib import Path
from qstore_tui.app import make_app
from qstore_tui.screens.config import ConfigScreen

app = make_app(runs_dir=Path(sys.argv[1]))
first: list[tuple[float, bool]] = []
display = app._display

def timed_display(screen, renderable):
    # The first update of the composed Config screen: what a terminal would be sent first.
    if not first and renderable is not None and isinstance(screen, ConfigScreen) and screen.ready:
        first.append((time.time(), any(m == "cirq" or m.startswith("cirq.") for m in sys.modules)))
    return display(screen, renderable)

app._display = timed_display

async def auto_pilot(pilot):
    import asyncio
    while not first:
        await asyncio.sleep(0.001)
    app.exit(f"{first[0][0]!r} {first[0][1]}")

print(app.run(headless=True, size=(80, 24), auto_pilot=auto_pilot))
"""


def first_frame(runs_dir: Path) -> tuple[float, bool]:
    """Seconds from spawning a fresh interpreter to the first painted Config screen; and cirq imported?"""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(runs_dir)], capture_output=True, text=True,
                         timeout=120, env=env, check=True)
    stamp, cirq = out.stdout.strip().splitlines()[-1].split()
    return float(stamp) - t0, cirq == "True"


async def key_latencies(runs_dir: Path, presses: int, seed: int,
                        helps: int) -> tuple[list[float], int, list[float], list[float]]:
    """Milliseconds from a posted key to the refreshed new screen, while a local run trains flat out;
    from `?` to the refreshed help screen; and the event loop's stalls over the same time (how late
    a 5 ms sleep wakes: whatever held the loop, keys or not)."""
    from textual import events

    from engine.config import TrainingConfig
    from qstore_tui.app import make_app

    config = TrainingConfig(backend="local", n_qubits=8, circuit_depth=2, shots_per_circuit=0, n_samples=400,
                            batch_size=20, epochs=1000, embeddings_to_store=False, log_interval=1)
    app = make_app(config=config, runs_dir=runs_dir)
    rng = random.Random(seed)
    keys = [("1", "config"), ("2", "training"), ("3", "compiler"), ("4", "report"), ("5", "runs"),
            ("f1", "config"), ("f2", "training"), ("f3", "compiler"), ("f4", "report"), ("f5", "runs")]
    latencies: list[float] = []
    help_ms: list[float] = []
    steps: list[int] = []
    stalls: list[float] = []

    async def lag_probe() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_S)
            stalls.append(max(0.0, (time.perf_counter() - t0 - LAG_PROBE_S) * 1000.0))

    async def refreshed() -> None:
        shown = asyncio.Event()
        app.screen.call_after_refresh(shown.set)
        await shown.wait()

    async def auto_pilot(pilot) -> None:
        while not app.screen.is_mounted:
            await asyncio.sleep(0.01)
        app.action_start()
        while app.bridge.view.step < 2:
            await asyncio.sleep(0.01)
        steps.append(app.bridge.view.step)
        probe = asyncio.create_task(lag_probe())
        for _ in range(presses):
            key, mode = rng.choice([k for k in keys if k[1] != app.current_mode])
            switched = asyncio.Event()

            def on_mode(name: str, mode: str = mode, switched: asyncio.Event = switched) -> None:
                if name == mode:
                    app.screen.call_after_refresh(switched.set)

            app.mode_change_signal.subscribe(app, on_mode)
            t0 = time.perf_counter()
            app.post_message(events.Key(key, key if len(key) == 1 else None))
            await switched.wait()
            latencies.append((time.perf_counter() - t0) * 1000.0)
            app.mode_change_signal.unsubscribe(app)
            await asyncio.sleep(rng.uniform(0.02, 0.08))  # a person between keys
        from qstore_tui.screens.help import HelpScreen

        for _ in range(helps):
            t0 = time.perf_counter()
            app.post_message(events.Key("question_mark", "?"))
            while not isinstance(app.screen, HelpScreen):
                await asyncio.sleep(0.0005)
            await refreshed()
            help_ms.append((time.perf_counter() - t0) * 1000.0)
            app.post_message(events.Key("escape", None))
            while isinstance(app.screen, HelpScreen):
                await asyncio.sleep(0.001)
            await asyncio.sleep(rng.uniform(0.02, 0.08))
        steps.append(app.bridge.view.step)
        probe.cancel()
        app.action_stop()
        await app.workers.wait_for_complete()
        app.exit()

    await app.run_async(headless=True, size=(100, 32), auto_pilot=auto_pilot)
    return latencies, steps[-1] - steps[0], help_ms, stalls


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=100, help="key presses while training (default 100)")
    parser.add_argument("--launches", type=int, default=3, help="launches for the first frame (best is kept)")
    parser.add_argument("--helps", type=int, default=30, help="help screen openings while training (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        frames = [first_frame(Path(tmp)) for _ in range(args.launches)]
        first_s = min(f for f, _ in frames)
        cirq_imported = any(c for _, c in frames)
        latencies, steps, help_ms, stalls = asyncio.run(key_latencies(Path(tmp), args.presses, args.seed,
                                                                      args.helps))

    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    help_first, help_ms = help_ms[0], help_ms[1:]
    help50, help99 = percentile(help_ms, 50), percentile(help_ms, 99)
    rows = [
        ("first frame", f"{first_s:.3f} s", f"<= {FIRST_FRAME_TARGET_S:.1f} s", first_s <= FIRST_FRAME_TARGET_S),
        ("cirq imported at first frame", str(cirq_imported), "False", not cirq_imported),
        ("key latency p50", f"{p50:.1f} ms", "", True),
        ("key latency p99", f"{p99:.1f} ms", f"<= {KEY_P99_TARGET_MS:.0f} ms", p99 <= KEY_P99_TARGET_MS),
        ("key latency max", f"{max(latencies):.1f} ms", "", True),
        ("help screen first open", f"{help_first:.1f} ms", "<= 1000 ms", help_first <= 1000),
        ("help screen open p50", f"{help50:.1f} ms", "", True),
        ("help screen open p99", f"{help99:.1f} ms", f"<= {HELP_P99_TARGET_MS:.0f} ms", help99 <= HELP_P99_TARGET_MS),
        ("event-loop stall p99 (5 ms probe)", f"{percentile(stalls, 99):.1f} ms", "", True),
        ("event-loop stall max", f"{max(stalls):.1f} ms", "", True),
        ("training steps during the presses", str(steps), "> 0", steps > 0),
    ]
    print(f"{'measure':<36} {'value':>12}  {'target':>10}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<36} {value:>12}  {target:>10}  {'yes' if ok else 'NO'}")
    print(f"({len(latencies)} presses over {len(frames)} launches; launch times: "
          + ", ".join(f"{f:.3f}s" for f, _ in frames) + ")")
    if args.json:
        print(json.dumps({"first_frame_s": round(first_s, 4), "key_latency_p50_ms": round(p50, 2),
                          "key_latency_p99_ms": round(p99, 2), "help_first_open_ms": round(help_first, 2),
                          "help_open_p50_ms": round(help50, 2),
                          "help_open_p99_ms": round(help99, 2),
                          "loop_stall_p99_ms": round(percentile(stalls, 99), 2),
                          "loop_stall_max_ms": round(max(stalls), 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
