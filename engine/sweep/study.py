"""A sweep's study: its spec kept in Optuna's storage, so any machine can `--join` it with only a name and a URL.

The spec (base config without secrets or paths, the search space, the planned trial count, sampler, pruner,
cost cap) is stored as study user attributes. The planned trials are enqueued up front as WAITING trials
(for the grid sampler, one per grid point, values fixed; otherwise empty, so the sampler picks the values
when the trial starts): workers take WAITING trials until none is left, which is what makes the count exact
across processes and machines: Optuna's storage hands each WAITING trial to one worker only. The spec is
stored before the trials, and the trials go in one transaction, so an interrupted start leaves a study that
a resume checks against its spec and tops up to exactly its planned count.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Literal, cast

from ..config import ConfigError, TrainingConfig
from .space import SearchSpace, parse_space, shared_fields
from .storage import enqueue_waiting

if TYPE_CHECKING:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.storages import RDBStorage

Sampler = Literal["tpe", "random", "grid"]
Prune = Literal["median", "none"]
OBJECTIVE = "val_accuracy"  # maximized: the run's final validation accuracy
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = "qstore."
PLANNED_ATTR = _PREFIX + "planned"
MAX_TRIALS = 10_000  # every summary (each second) and each worker, before each trial, reads them all: 1.5 s at 10,000
_FLAGS = {"sampler": "--sampler", "prune": "--prune"}


@dataclass(frozen=True)
class SweepSpec:
    study: str
    base: TrainingConfig
    space: SearchSpace
    trials: int
    sampler: Sampler = "tpe"
    prune: Prune = "median"
    max_cost_usd: float | None = None  # the whole study's cap (QPU targets)

    def attrs(self) -> dict[str, object]:
        return {
            "base": shared_fields(self.base), "space": self.space.to_toml_dict(), "trials": self.trials,
            "sampler": self.sampler, "prune": self.prune, "max_cost_usd": self.max_cost_usd, "objective": OBJECTIVE,
        }


def check_study_name(name: str, field: str = "study") -> str:
    """A name that is a folder of the runs directory's sweeps/: no '/', '..', '.', empty or trailing newline."""
    if not _NAME.fullmatch(name) or name.strip(".") == "":
        raise ConfigError(field, f"{name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter "
                                 "or digit")
    return name


def check_trials(n: int) -> int:
    if not 1 <= n <= MAX_TRIALS:
        raise ConfigError("trials", f"--trials must be 1 to {MAX_TRIALS:,}, got {n}")
    return n


def check_grid(space: SearchSpace, trials: int) -> None:
    """The grid sampler needs a grid (floats with a step) of at least `trials` points (ConfigError naming it)."""
    size = space.grid_size()
    if trials > size:
        raise ConfigError("trials", f"the grid has {size:,} points, fewer than --trials {trials:,}")


def make_sampler(name: Sampler) -> BaseSampler:
    """TPE with the constant liar (parallel workers do not all pick the same point); grid trials are
    enqueued with fixed values, so any sampler serves them."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(constant_liar=True)
    if name in ("random", "grid"):
        return optuna.samplers.RandomSampler()
    raise ConfigError("sampler", f"expected tpe, random or grid, got {name!r}")


def make_pruner(name: Prune) -> BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError("prune", f"expected median or none, got {name!r}")


class _TrialFailureLines(logging.Filter):
    """Optuna's line for a failed trial, without its traceback (the error is in the line, study.json and the
    run's events); none for a trial a Ctrl-C interrupted (the run says `interrupted`; the trial runs again when
    the sweep resumes), and not its second line, "Trial N failed with value None", which repeats the first.
    Without it, a Ctrl-C on a sweep put two tracebacks a worker on the screen."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "KeyboardInterrupt()" in text or (text.startswith("Trial ") and " failed with value " in text):
            return False
        record.exc_info = record.exc_text = None
        return True


_FAILURE_LINES = _TrialFailureLines()


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna.study._optimize").addFilter(_FAILURE_LINES)  # the same filter once, however often


def create_study(spec: SweepSpec, storage: RDBStorage) -> optuna.Study:
    """Create the study, or resume it: the same base config, space, sampler and pruner (ConfigError naming what
    differs); a larger --trials adds trials, a smaller one keeps the stored plan."""
    import optuna

    _quiet()
    check_study_name(spec.study)
    check_trials(spec.trials)
    if spec.sampler == "grid":
        check_grid(spec.space, spec.trials)
    with _interrupts_kept():
        study = optuna.create_study(study_name=spec.study, storage=storage, direction="maximize",
                                    sampler=make_sampler(spec.sampler), pruner=make_pruner(spec.prune),
                                    load_if_exists=True)
        stored = {k[len(_PREFIX):]: v for k, v in study.user_attrs.items() if k.startswith(_PREFIX)}
        check_resume(spec, stored)
        spec = dataclasses.replace(spec, trials=max(spec.trials, int(cast(int, stored.get("trials", 0)))))
        for key, value in spec.attrs().items():  # the spec first: a resume checks it even if no trial got in
            if stored.get(key) != value:
                study.set_user_attr(_PREFIX + key, value)
        have = _planned_count(study)
        todo = spec.space.grid(have, spec.trials) if spec.sampler == "grid" else [{}] * max(0, spec.trials - have)
        enqueue_waiting(storage, storage.get_study_id_from_name(spec.study),
                        [(dict(params), {PLANNED_ATTR: True}) for params in todo])
        _requeue_interrupted(study)
    return study


def check_resume(spec: SweepSpec, stored: dict[str, object]) -> None:
    """A resumed study runs the spec it was created with."""
    if "space" not in stored and "base" not in stored:
        return
    if stored.get("space") != spec.space.to_toml_dict() or stored.get("base") != shared_fields(spec.base):
        raise ConfigError("study", f"{spec.study!r} already exists with another base config or space: "
                                   "resume it with the same files, or choose a new --study")
    for key, given in (("sampler", spec.sampler), ("prune", spec.prune)):
        if stored.get(key, given) != given:
            raise ConfigError(key, f"{spec.study!r} was created with {_FLAGS[key]} {stored[key]}, not {given}: "
                                   f"resume it with {_FLAGS[key]} {stored[key]}, or choose a new --study")


def _planned_count(study: optuna.Study) -> int:
    """Planned trials enqueued so far; retries are copies (a heartbeat's copies the user attributes too)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.user_attrs.get(PLANNED_ATTR)
               and _PREFIX + "retry_of" not in t.user_attrs and "failed_trial" not in t.system_attrs)


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def _interrupts_kept() -> Iterator[None]:
    """A Ctrl-C (or a SIGTERM / SIGHUP the CLI turns into one) while the study is created ends it once created,
    even when its KeyboardInterrupt was raised inside one of SQLAlchemy's garbage-collection callbacks, which
    print "Exception ignored" and go on (the sweep then ran on)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []
    previous = {}
    for sig in _SIGNALS:
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler

            def noted(signum: int, frame: FrameType | None, handler: Callable[[int, FrameType | None], object]
                      = handler) -> None:
                seen.append(signum)
                handler(signum, frame)

            signal.signal(sig, noted)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if seen:
        raise KeyboardInterrupt


def _requeue_interrupted(study: optuna.Study) -> None:
    """Trials a Ctrl-C ended (FAIL, marked interrupted) run again when the sweep resumes, once each."""
    from optuna.trial import TrialState

    done = set(cast("list[int]", study.user_attrs.get(_PREFIX + "requeued", [])))
    again = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
             if t.user_attrs.get("interrupted") and t.number not in done]
    for t in again:
        study.enqueue_trial(dict(t.params), user_attrs={PLANNED_ATTR: True, _PREFIX + "retry_of": t.number},
                            skip_if_exists=False)
    if again:
        study.set_user_attr(_PREFIX + "requeued", sorted(done | {t.number for t in again}))


def load_spec(study: optuna.Study) -> SweepSpec:
    """The spec a study was created with (what `--join` runs)."""
    attrs = {k[len(_PREFIX):]: v for k, v in study.user_attrs.items() if k.startswith(_PREFIX)}
    if "base" not in attrs or "space" not in attrs:
        raise ConfigError("study", f"{study.study_name!r} was not created by `qstore-tui sweep` (no base config "
                                   "or space stored with it)")
    base = TrainingConfig(**cast(dict[str, object], attrs["base"]))
    space = parse_space(cast(dict[str, object], attrs["space"]), base)
    cap = attrs.get("max_cost_usd")
    return SweepSpec(study=study.study_name, base=base, space=space, trials=int(cast(int, attrs["trials"])),
                     sampler=cast(Sampler, attrs.get("sampler", "tpe")),
                     prune=cast(Prune, attrs.get("prune", "median")),
                     max_cost_usd=None if cap is None else float(cast(float, cap)))


def load_study(name: str, storage: RDBStorage) -> optuna.Study:
    """An existing study (ConfigError naming it when absent), with the sampler and pruner of its spec."""
    import optuna

    _quiet()
    check_study_name(name)
    if name not in optuna.get_all_study_names(storage):
        raise ConfigError("study", f"no study named {name!r} in this storage")
    probe = optuna.load_study(study_name=name, storage=storage)
    spec = load_spec(probe)
    return optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(spec.sampler),
                             pruner=make_pruner(spec.prune))
