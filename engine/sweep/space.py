"""The search space: a TOML file over TrainingConfig fields, checked against the config before any trial.

    [learning_rate]            # a float range; log = true samples it on a log scale
    type = "float"
    low = 0.001
    high = 0.3
    log = true

    [epochs]                   # an integer range (step optional)
    type = "int"
    low = 1
    high = 4

    [gradient_method]          # categorical choices
    type = "categorical"
    choices = ["spsa", "parameter_shift"]

Every field must be a TrainingConfig field (not a secret nor a path), the kind must suit the field's type
(a float range for a float field, an int range for an int field; choices for anything), and every bound
and choice must pass the config's own validation with the base config: a bad one is refused with
ConfigError naming the field before the study starts.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union

from ..config import SECRET_FIELDS, ConfigError, TrainingConfig
from ..fileio import write_error
from ..tomlguard import TomlError
from ..tomlguard import loads as toml_loads

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import Trial

Choice = Union[str, int, float, bool]
_NOT_SWEEPABLE = set(SECRET_FIELDS) | {"runs_dir", "checkpoint_directory", "dataset_path", "ionq_api_url"}


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False
    step: float | None = None
    kind: Literal["float"] = "float"


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False
    step: int = 1
    kind: Literal["int"] = "int"


@dataclass(frozen=True)
class Categorical:
    choices: tuple[Choice, ...]
    kind: Literal["categorical"] = "categorical"


Param = Union[FloatRange, IntRange, Categorical]


@dataclass(frozen=True)
class SearchSpace:
    params: dict[str, Param]

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna's distributions for the space (imports optuna)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, BaseDistribution] = {}
        for name, p in self.params.items():
            if isinstance(p, FloatRange):
                out[name] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
            elif isinstance(p, IntRange):
                out[name] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
            else:
                out[name] = CategoricalDistribution(p.choices)
        return out

    def suggest(self, trial: Trial) -> dict[str, Choice]:
        """The trial's values, one per field, through Optuna's suggest API (the sampler picks them)."""
        values: dict[str, Choice] = {}
        for name, p in self.params.items():
            if isinstance(p, FloatRange):
                values[name] = trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
            elif isinstance(p, IntRange):
                values[name] = trial.suggest_int(name, p.low, p.high, log=p.log, step=p.step)
            else:
                values[name] = typing.cast(Choice, trial.suggest_categorical(name, list(p.choices)))
        return values

    def _axes(self) -> list[tuple[int, Callable[[int], Choice]]]:
        """Each field's grid points as (count, index -> value), never listed: a fine step makes billions.
        Floats need a `step` (and no log): refused naming the field otherwise."""
        axes: list[tuple[int, Callable[[int], Choice]]] = []
        for name, p in self.params.items():
            if isinstance(p, Categorical):
                axes.append((len(p.choices), p.choices.__getitem__))
            elif isinstance(p, IntRange):
                if p.log:
                    raise ConfigError(name, "a log-scale int range has no grid: give choices instead")
                axes.append(((p.high - p.low) // p.step + 1, partial(_int_point, p)))
            else:
                if p.step is None or p.log:
                    raise ConfigError(name, "the grid sampler needs a float range with a step (and no log)")
                low, step = Decimal(repr(p.low)), Decimal(repr(p.step))  # decimal: 0.1 + 2 * 0.1 is 0.3, in range
                count = int((Decimal(repr(p.high)) - low) / step) + 1
                axes.append((count, partial(_float_point, p.high, low, step)))
        return axes

    def grid_size(self) -> int:
        return math.prod(n for n, _ in self._axes())

    def grid(self, start: int = 0, stop: int | None = None) -> list[dict[str, Choice]]:
        """Combinations `start` to `stop` (grid sampler), in itertools.product's order: the last field fastest."""
        axes = self._axes()
        total = math.prod(n for n, _ in axes)
        out = []
        for k in range(start, total if stop is None else min(total, stop)):
            values: list[Choice] = []
            for n, value in reversed(axes):
                k, i = divmod(k, n)
                values.append(value(i))
            out.append(dict(zip(self.params, reversed(values))))
        return out

    def to_toml_dict(self) -> dict[str, dict[str, object]]:
        """The space as the TOML tables it came from (stored with the study so `--join` needs no file)."""
        out: dict[str, dict[str, object]] = {}
        for name, p in self.params.items():
            if isinstance(p, Categorical):
                out[name] = {"type": "categorical", "choices": list(p.choices)}
            else:
                entry: dict[str, object] = {"type": p.kind, "low": p.low, "high": p.high, "log": p.log}
                if p.step is not None:
                    entry["step"] = p.step
                out[name] = entry
        return out


def _int_point(p: IntRange, i: int) -> Choice:
    return p.low + i * p.step


def _float_point(high: float, low: Decimal, step: Decimal, i: int) -> Choice:
    return min(high, float(low + i * step))


def _field_kind(name: str) -> str:
    """float, int, bool, or other (literals, strings) for a TrainingConfig field."""
    annotation = TrainingConfig.model_fields[name].annotation
    args = [annotation]
    if typing.get_origin(annotation) in (Union, types.UnionType):  # `float | None`: the optional's type
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if len(args) == 1 else annotation
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    if base is float:
        return "float"
    return "other"


def _number(name: str, key: str, value: object, *, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(name, f"{key} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(name, f"{key} must be finite, got {value!r}")
    return value


_KIND_NAMES = {"bool": "true or false", "int": "an integer", "float": "a number", "other": "a string"}


def _choice(name: str, field_kind: str, value: object) -> Choice:
    """A choice of the field's own type, strictly: no true for a number, no 0 for a bool, no "0.2" for a float
    (pydantic would coerce each); a float field's integer becomes a float."""
    if isinstance(value, bool):
        if field_kind == "bool":
            return value
    elif isinstance(value, int) and field_kind in ("int", "float"):
        return float(value) if field_kind == "float" else value
    elif isinstance(value, float) and field_kind == "float":
        if not math.isfinite(value):
            raise ConfigError(name, f"choice {value!r} must be finite")
        return value
    elif isinstance(value, str) and field_kind == "other":
        return value
    raise ConfigError(name, f"choice {value!r} is not {_KIND_NAMES[field_kind]} (this field's type)")


def _parse_param(name: str, table: object) -> Param:
    if not isinstance(table, dict):
        raise ConfigError(name, "expected a table: [name] with type = \"float\" | \"int\" | \"categorical\"")
    if "type" not in table:
        raise ConfigError(name, "missing type: one of \"float\", \"int\" or \"categorical\"")
    kind = table.get("type")
    allowed = {"float": {"type", "low", "high", "log", "step"}, "int": {"type", "low", "high", "log", "step"},
               "categorical": {"type", "choices"}}
    if kind not in allowed:
        raise ConfigError(name, f"type must be \"float\", \"int\" or \"categorical\", got {kind!r}")
    unknown = sorted(set(table) - allowed[kind])
    if unknown:
        raise ConfigError(name, f"unknown key {unknown[0]!r} for a {kind} parameter")
    field_kind = _field_kind(name)
    if kind == "categorical":
        choices = table.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(name, "choices must be a non-empty list")
        typed = tuple(_choice(name, field_kind, c) for c in choices)
        if len(set(typed)) != len(typed):  # by value: 1 and 1.0 are one choice
            raise ConfigError(name, "choices must not repeat")
        return Categorical(typed)
    if field_kind != kind:
        raise ConfigError(name, f"a {kind} range does not suit this {field_kind} field"
                                + (": use type = \"categorical\"" if field_kind in ("bool", "other") else ""))
    integer = kind == "int"
    if "low" not in table or "high" not in table:
        raise ConfigError(name, "a range needs low and high")
    low = _number(name, "low", table["low"], integer=integer)
    high = _number(name, "high", table["high"], integer=integer)
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(name, f"log must be true or false, got {log!r}")
    if low > high:
        raise ConfigError(name, f"low ({low:g}) is above high ({high:g})")
    if log and low <= 0:
        raise ConfigError(name, f"a log range needs low > 0, got {low:g}")
    step = table.get("step")
    if step is not None:
        step = _number(name, "step", step, integer=integer)
        if step <= 0:
            raise ConfigError(name, f"step must be > 0, got {step:g}")
        if log:
            raise ConfigError(name, "a range cannot have both log and step")
        if (Decimal(repr(high)) - Decimal(repr(low))) % Decimal(repr(step)):  # as Optuna reckons it
            raise ConfigError(name, f"step {step:g} does not divide the range {low:g} to {high:g}")
    if integer:
        return IntRange(int(low), int(high), log=log, step=int(step) if step is not None else 1)
    return FloatRange(float(low), float(high), log=log, step=float(step) if step is not None else None)


def _check_against(base: TrainingConfig, name: str, param: Param) -> None:
    """Every bound and choice must be a valid value of the field with the base config."""
    values: list[Choice] = list(param.choices) if isinstance(param, Categorical) else [param.low, param.high]
    for value in values:
        try:
            apply_params(base, {name: value})
        except ConfigError as exc:
            why = exc.reason if exc.field == name else str(exc)  # another field's rule: say which
            raise ConfigError(name, f"{value!r} is not valid here: {why}") from None


def parse_space(data: dict[str, object], base: TrainingConfig) -> SearchSpace:
    """A space from its TOML tables, checked field by field against TrainingConfig and the base config."""
    if not data:
        raise ConfigError(None, "the search space is empty: add at least one [field] table")
    params: dict[str, Param] = {}
    for name, table in data.items():
        if name not in TrainingConfig.model_fields:
            raise ConfigError(name, "not a TrainingConfig field")
        if name in _NOT_SWEEPABLE:
            raise ConfigError(name, "secrets, paths and URLs cannot be swept")
        param = _parse_param(name, table)
        _check_against(base, name, param)
        params[name] = param
    return SearchSpace(params)


def load_space(path: str | Path, base: TrainingConfig) -> SearchSpace:
    """Read and check a space file; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(None, f"{path}: cannot read the space file: {write_error(path, exc).reason}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(None, f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = toml_loads(text)  # depth- and size-limited, as every TOML file we read: not a RecursionError
    except TomlError as exc:
        reason = str(exc).removeprefix("invalid TOML: ")  # tomllib's own prefix: said once
        raise ConfigError(None, f"{path}: not valid TOML: {reason}") from None
    try:
        return parse_space(data, base)
    except ConfigError as exc:
        raise exc.in_file(path) from None


def shared_fields(config: TrainingConfig) -> dict[str, object]:
    """The config as plain JSON values, without secrets or this machine's paths: what a study stores."""
    return config.model_dump(mode="json", exclude=set(SECRET_FIELDS) | {"runs_dir", "checkpoint_directory"})


def apply_params(base: TrainingConfig, params: dict[str, Choice]) -> TrainingConfig:
    """The base config with a trial's values, validated together (ConfigError names the field)."""
    return TrainingConfig(**{**base.model_dump(), **params})
