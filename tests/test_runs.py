"""The run directory: events.jsonl written and read back, torn tails, follow, lock, listing."""

import asyncio

import pytest

from engine.config import TrainingConfig
from engine.events import EpochFinished, EventBus, Log, RunFinished, RunStarted, StepMetrics
from engine.runs import (
    CONFIG_FILE, EVENTS_FILE, EventLog, RunError, RunLock, create_run_dir, follow_events, is_running, list_runs,
    load_run_config, read_events, resolve_run, run_info,
)


def _started(run_id="r", total=4, resumed=0):
    return RunStarted(run_id=run_id, backend="local", target="simulator", n_qubits=2, n_params=6,
                      total_steps=total, resumed_from_step=resumed)


def _write(run_dir, events, clock=lambda: 1000.0):
    bus = EventBus(clock=clock)
    log = EventLog(run_dir / EVENTS_FILE)
    bus.add_sink(log)
    for e in events:
        bus.emit(e)
    log.close()


@pytest.fixture
def run_dir(tmp_path):
    return create_run_dir(tmp_path, "run-1", TrainingConfig(n_qubits=2, epochs=1))


def test_create_run_dir_writes_config_and_refuses_to_overwrite(tmp_path):
    d = create_run_dir(tmp_path, "a", TrainingConfig(n_qubits=3, epochs=2))
    assert (d / CONFIG_FILE).is_file() and (d / "checkpoints").is_dir()
    assert load_run_config(d).n_qubits == 3
    with pytest.raises(RunError, match="already exists"):
        create_run_dir(tmp_path, "a", TrainingConfig())


def test_events_round_trip_in_order_with_seq_and_time(run_dir):
    events = [_started(), StepMetrics(epoch=0, step=0, total_steps=4, loss=0.5), Log(message="hi"),
              RunFinished(status="completed", steps=4, final_loss=0.25)]
    _write(run_dir, events)
    back = read_events(run_dir)
    assert [type(e) for e in back] == [type(e) for e in events]
    assert [e.seq for e in back] == [1, 2, 3, 4]
    assert all(e.time == 1000.0 for e in back)
    assert back[1].loss == 0.5 and back[3].final_loss == 0.25


def test_torn_last_line_is_ignored_and_dropped_before_appending(run_dir):
    _write(run_dir, [_started(), StepMetrics(epoch=0, step=0, total_steps=4, loss=0.5)])
    path = run_dir / EVENTS_FILE
    with open(path, "ab") as f:
        f.write(b'{"kind":"step_metrics","epoch":0,"st')  # killed mid-write
    assert len(read_events(run_dir)) == 2
    _write(run_dir, [Log(message="after restart")])
    back = read_events(run_dir)
    assert [e.kind for e in back] == ["run_started", "step_metrics", "log"]
    assert path.read_bytes().endswith(b"\n")


def test_a_corrupt_line_names_the_file_and_line(run_dir):
    _write(run_dir, [_started()])
    with open(run_dir / EVENTS_FILE, "ab") as f:
        f.write(b'{"kind":"step_metrics","epoch":0}\n')
    with pytest.raises(RunError, match=r"events.jsonl: line 2: not a valid event"):
        read_events(run_dir)


def test_lock_is_exclusive_and_released(run_dir):
    lock = RunLock(run_dir)
    lock.acquire()
    assert is_running(run_dir)
    with pytest.raises(RunError, match="already running"):
        RunLock(run_dir).acquire()
    lock.release()
    assert not is_running(run_dir)


async def test_follow_yields_events_as_they_are_written_and_ends_at_run_finished(run_dir):
    lock = RunLock(run_dir)
    lock.acquire()
    bus = EventBus(clock=lambda: 5.0)
    log = EventLog(run_dir / EVENTS_FILE)
    bus.add_sink(log)
    bus.emit(_started())
    seen = []

    async def follow():
        async for event in follow_events(run_dir, poll_s=0.01):
            seen.append(event)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    assert [e.kind for e in seen] == ["run_started"]
    for step in range(3):
        bus.emit(StepMetrics(epoch=0, step=step, total_steps=3, loss=1.0 / (step + 1)))
        await asyncio.sleep(0.02)
    assert len(seen) == 4 and not task.done()
    bus.emit(RunFinished(status="completed", steps=3))
    await asyncio.wait_for(task, 2)
    log.close()
    lock.release()
    assert seen[-1].kind == "run_finished" and [e.seq for e in seen] == [1, 2, 3, 4, 5]


async def test_follow_ends_at_the_end_of_a_killed_run(run_dir):
    _write(run_dir, [_started(), StepMetrics(epoch=0, step=0, total_steps=4, loss=0.5)])
    events = [e async for e in follow_events(run_dir, poll_s=0.01)]
    assert [e.kind for e in events] == ["run_started", "step_metrics"]


def test_run_info_reads_status_and_final_metrics(tmp_path):
    done = create_run_dir(tmp_path, "done", TrainingConfig())
    _write(done, [_started("done"), StepMetrics(epoch=0, step=3, total_steps=4, loss=0.2),
                  EpochFinished(epoch=0, train_loss=0.3, val_accuracy=0.75),
                  RunFinished(status="completed", steps=4, final_loss=0.2, val_accuracy=0.75)],
           clock=lambda: 2000.0)
    killed = create_run_dir(tmp_path, "killed", TrainingConfig(backend="local"))
    _write(killed, [_started("killed", total=10), StepMetrics(epoch=0, step=1, total_steps=10, loss=0.9)],
           clock=lambda: 3000.0)
    stopped_then_resumed = create_run_dir(tmp_path, "resumed", TrainingConfig())
    _write(stopped_then_resumed, [_started("resumed"), RunFinished(status="interrupted", steps=1),
                                  _started("resumed", resumed=1)], clock=lambda: 1000.0)
    new = create_run_dir(tmp_path, "new", TrainingConfig())

    info = run_info(done)
    assert (info.status, info.steps, info.total_steps, info.final_loss, info.val_accuracy) == (
        "completed", 4, 4, 0.2, 0.75)
    assert run_info(killed).status == "incomplete" and run_info(killed).steps == 2
    assert run_info(stopped_then_resumed).status == "incomplete"
    assert run_info(new).status == "new" and run_info(new).backend == "local"
    lock = RunLock(killed)
    lock.acquire()
    assert run_info(killed).status == "running"
    lock.release()
    assert [r.run_id for r in list_runs(tmp_path)] == ["killed", "done", "resumed", "new"]


def test_resolve_run_by_id_or_path(run_dir, tmp_path):
    assert resolve_run(tmp_path, "run-1") == run_dir
    assert resolve_run(tmp_path / "elsewhere", run_dir) == run_dir
    with pytest.raises(RunError, match="'nope': not found"):
        resolve_run(tmp_path, "nope")
    (tmp_path / "plain").mkdir()  # a folder given as the run: said to be no run, not to be missing
    with pytest.raises(RunError, match=r"plain': that folder is not a run \(no config.toml in it\)"):
        resolve_run(tmp_path / "elsewhere", tmp_path / "plain")
