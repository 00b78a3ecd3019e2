"""A long headless run: does the engine's memory level off, and does events.jsonl stay gap-free?

Runs `qstore-tui run --headless` as its own process on the local simulator for at least 20,000
optimizer steps (a 4-qubit, depth-1 model, batch 1, exact expectations, a checkpoint every 10
steps, embeddings stored every epoch: the most steps, events, checkpoints and store writes per second
the engine can make), and samples the process's resident set size (/proc/<pid>/status VmRSS) with
the step it is at (the last StepMetrics in events.jsonl) every 0.25 s, from the run's first step until
the process exits: training, then the end of the run (RunFinished, the report built from events.jsonl and
written, files closed) at the last step.

Method: the growth is the least-squares slope of RSS over steps of every sample from 10% of the run's
steps to the process's exit (the end-of-run report included: a report that grows with the run shows
there). The first 10% of steps are warm-up: JIT compilation of the code paths met in the first epochs,
the first checkpoints and store writes, caches filling up to their caps. For transparency
`rss_growth_from_first_step_kb_per_step` is the same slope over every sample from the first step on.
`events_contiguous`: the events' `seq` numbers are exactly 1..N. `--steps` runs a shorter variant
(for bisecting; the target is for >= 20,000), `--samples FILE` writes every sample as CSV.

Target: rss_growth_kb_per_step <= 0.1 (a leak of one small object per step shows as about 0.1-1 KB).
Prints a table; with --json the last line is one JSON object with the keys steps, rss_start_mb,
rss_end_mb, rss_growth_kb_per_step, events_contiguous (and a few more for context).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_KB_PER_STEP = 0.1


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _tail(events: Path, tail_bytes: int = 16384) -> tuple[int | None, bool]:
    """(the step of the last StepMetrics near the end of events.jsonl, whether RunFinished is written), from
    the file's tail only."""
    try:
        with open(events, "rb") as handle:
            handle.seek(max(0, events.stat().st_size - tail_bytes))
            lines = handle.read().split(b"\n")
    except OSError:
        return None, False
    finished = any(b'"kind":"run_finished"' in line for line in lines)
    for line in reversed(lines):
        if b'"kind":"step_metrics"' in line:
            try:
                return int(json.loads(line)["step"]), finished
            except (ValueError, KeyError):
                continue
    return None, finished


def _slope_kb_per_step(samples: list[tuple[float, int, float, str]]) -> float:
    """Least-squares slope of RSS (MB) over steps, in KB per step."""
    x = np.array([s for _, s, _, _ in samples], dtype=float)
    y = np.array([r for _, _, r, _ in samples], dtype=float)
    if len(samples) < 3 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0]) * 1024


def run(steps: int, seed: int, samples_csv: Path | None = None) -> dict[str, object]:
    train = 80  # 100 samples, validation 0.2
    epochs = -(-steps // train)
    settings = dict(n_qubits=4, circuit_depth=1, n_samples=100, batch_size=1, epochs=epochs, shots_per_circuit=0,
                    seed=seed, log_interval=1, checkpoint_interval=10, gradient_method="spsa_parallel")
    args = [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
    with tempfile.TemporaryDirectory(prefix="qstore-long-run-") as tmp:
        runs = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("IONQ_API_KEY", "PINECONE_API_KEY")}
        env["PYTHONPATH"] = str(ROOT)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "qstore_tui", "run", "--headless", "--runs-dir", str(runs),
                                 *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        samples: list[tuple[float, int, float, str]] = []  # (seconds, step, RSS MB, "training" or "end")
        events: Path | None = None
        while proc.poll() is None:
            time.sleep(0.25)
            if events is None:
                found = [d for d in runs.iterdir() if (d / "events.jsonl").exists()]
                events = found[0] / "events.jsonl" if found else None
                continue
            (step, finished), rss = _tail(events), _rss_mb(proc.pid)
            if step is not None and rss is not None:
                samples.append((time.perf_counter() - t0, step, rss, "end" if finished else "training"))
        wall = time.perf_counter() - t0
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0 or events is None:
            raise SystemExit(f"the run failed (exit {proc.returncode}): {err[-2000:]}")
        seqs = [json.loads(line)["seq"] for line in events.read_bytes().splitlines() if line.strip()]
        done, _ = _tail(events)
    if samples_csv is not None:
        samples_csv.write_text("t_s,step,rss_mb,phase\n" + "".join(f"{t:.2f},{s},{r:.2f},{p}\n"
                                                                     for t, s, r, p in samples))
    contiguous = seqs == list(range(1, len(seqs) + 1))
    total = (done or 0) + 1
    steady = [x for x in samples if x[1] >= total // 10]
    training = [r for _, _, r, p in samples if p == "training"]
    end = [r for _, _, r, p in samples if p == "end"]
    return {
        "steps": total,
        "rss_start_mb": round(steady[0][2], 1) if steady else None,
        "rss_end_mb": round(samples[-1][2], 1) if samples else None,
        "rss_peak_mb": round(max(r for _, _, r, _ in samples), 1) if samples else None,
        "rss_peak_training_mb": round(max(training), 1) if training else None,
        "rss_peak_end_of_run_mb": round(max(end), 1) if end else None,
        "rss_growth_kb_per_step": round(_slope_kb_per_step(steady), 4),
        "rss_growth_from_first_step_kb_per_step": round(_slope_kb_per_step(samples), 4),
        "events_contiguous": contiguous,
        "events": len(seqs),
        "samples": len(samples),
        "end_of_run_samples": len(end),
        "wall_s": round(wall, 1),
        "steps_per_s": round(total / wall, 1),
        "target_kb_per_step": TARGET_KB_PER_STEP,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20_000, help="at least this many optimizer steps (default 20000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--samples", type=Path, metavar="FILE", help="write every (time, step, RSS, phase) sample as CSV")
    a = p.parse_args()
    result = run(a.steps, a.seed, a.samples)
    rows = [("steps", f"{result['steps']:,}"), ("wall time", f"{result['wall_s']} s ({result['steps_per_s']} steps/s)"),
            ("RSS after warm-up", f"{result['rss_start_mb']} MB"), ("RSS at the end", f"{result['rss_end_mb']} MB"),
            ("RSS peak", f"{result['rss_peak_training_mb']} MB training, {result['rss_peak_end_of_run_mb']} MB "
                         f"at the end of the run (report; {result['end_of_run_samples']} samples)"),
            ("growth", f"{result['rss_growth_kb_per_step']} KB/step (target <= {TARGET_KB_PER_STEP}); "
                       f"{result['rss_growth_from_first_step_kb_per_step']} KB/step from the first step"),
            ("events", f"{result['events']:,}, seq contiguous: {result['events_contiguous']}")]
    width = max(len(k) for k, _ in rows)
    print("long headless run on the local simulator")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    if a.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
