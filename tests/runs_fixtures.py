"""Run directories with fixed, hand-written events: deterministic data for index, compare, plot and UI tests.

`fake_run(runs_dir, "a", losses=[...], val_accuracy=[...])` writes config.toml and events.jsonl as a
session would (RunStarted, BatchExecuted and StepMetrics per step, EpochFinished per epoch, RunFinished),
with a fixed clock, so two calls with the same arguments write the same bytes.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Sequence

from engine.config import TrainingConfig
from engine.events import (
    BatchExecuted, CostEstimate, EpochFinished, EventBus, RunFinished, RunStarted, SpendUpdate, StepMetrics,
)
from engine.runs import EVENTS_FILE, EventLog, create_run_dir
from engine.runs.tags import SweepTag, tag_run, write_sweep_tag


def fake_run(runs_dir: Path, run_id: str, *, losses: Sequence[float], steps_per_epoch: int = 2,
             val_accuracy: Sequence[float] | None = None, status: str | None = "completed", start: float = 1_000.0,
             circuits_per_step: int = 10, cost_usd: float | None = None,
             spend: Sequence[tuple[str, float]] = (), tags: Sequence[str] = (),
             sweep: SweepTag | None = None, report_every: int = 1, **config: Any) -> Path:
    """A finished (or, with status=None, killed) run with one step per loss; epochs = len(losses) / steps_per_epoch.
    StepMetrics every `report_every` steps and at the last one, as the trainer's `log_interval` does."""
    epochs = max(1, len(losses) // steps_per_epoch)
    cfg = TrainingConfig(**{"n_qubits": 2, "circuit_depth": 1, "epochs": epochs, "shots_per_circuit": 0, **config})
    run_dir = create_run_dir(Path(runs_dir), run_id, cfg)
    clock = itertools.count(start, 0.5)
    bus = EventBus(clock=lambda: next(clock))
    log = EventLog(run_dir / EVENTS_FILE)
    bus.add_sink(log)
    total = len(losses)
    bus.emit(RunStarted(run_id=run_id, backend=cfg.backend, target=cfg.quantum_target, n_qubits=cfg.n_qubits,
                        n_params=6, total_steps=total))
    vals = list(val_accuracy or [])
    for step, loss in enumerate(losses):
        epoch = step // steps_per_epoch
        bus.emit(BatchExecuted(batch_id=step, circuits=circuits_per_step, total_ms=100.0, throughput_cps=100.0,
                               purpose="spsa"))
        if step % report_every == 0 or step == total - 1:
            bus.emit(StepMetrics(epoch=epoch, step=step, total_steps=total, loss=loss, accuracy=0.5, grad_norm=1.0,
                                 circuits=circuits_per_step))
        if (step + 1) % steps_per_epoch == 0:
            va = vals[epoch] if epoch < len(vals) else None
            bus.emit(EpochFinished(epoch=epoch, train_loss=loss, train_accuracy=0.5, val_loss=loss, val_accuracy=va))
    if cost_usd is not None:
        bus.emit(CostEstimate(target="qpu.aria-1", circuits=total * circuits_per_step, shots=100, usd=cost_usd,
                              per_circuit_usd=cost_usd / (total * circuits_per_step), source="formula", basis="test"))
    spent = 0.0
    for n, (job_id, usd) in enumerate(spend, start=1):
        spent += usd
        bus.emit(SpendUpdate(job_id=job_id, job_usd=usd, billed=True, spent_usd=spent, jobs=n))
    if status is not None:
        bus.emit(RunFinished(status=status, steps=total, final_loss=losses[-1] if losses else None,
                             val_accuracy=vals[-1] if vals else None, wall_s=0.5 * total))
    log.close()
    if tags:
        tag_run(run_dir, *tags)
    if sweep is not None:
        write_sweep_tag(run_dir, sweep)
    return run_dir
