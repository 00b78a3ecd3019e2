"""TrainingConfig: every field of the Q-Store v3.4 reference, validated, with presets and TOML in/out.

Errors are `ConfigError` (a ValueError) whose message names the field and the rule, e.g.
"learning_rate: must be > 0, got -1", so the CLI and the Config screen can show them as they are.
Per-field rules live in the field declarations; rules that relate fields live in `_cross_field`;
rules that depend on the outside world (API keys, files, cost caps) live in `check_runnable`.

Secrets (`pinecone_api_key`, `quantum_api_key`) come from the environment when not given, are
masked by `SecretStr` in repr/str/model_dump, are never written by `save_config` and are refused
by `load_config`.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import platformdirs
import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from .fileio import atomic_write_bytes

DEFAULT_IONQ_API_URL = "https://api.ionq.co/v0.4"
SECRET_FIELDS: dict[str, str] = {"pinecone_api_key": "PINECONE_API_KEY", "quantum_api_key": "IONQ_API_KEY"}
_MASK = "**********"


class ConfigError(ValueError):
    """A configuration value breaks a rule.

    `field` is the first offending field (None for file-level problems such as TOML syntax),
    `reason` its message without the field name, `problems` every (field, reason) found,
    `path` / `line` where it came from when it was read from a file.
    """

    def __init__(
        self,
        field: str | None,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        problems: Sequence[tuple[str | None, str]] | None = None,
    ):
        self.field = field
        self.reason = message
        self.path = None if path is None else Path(path)
        self.line = line
        self.problems: tuple[tuple[str | None, str], ...] = tuple(problems) if problems else ((field, message),)
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if line is not None:
            where.append(f"line {line}")
        prefix = f"{', '.join(where)}: " if where else ""
        body = "; ".join(f"{f}: {m}" if f else m for f, m in self.problems)
        super().__init__(prefix + body)

    def in_file(self, path: str | os.PathLike[str]) -> ConfigError:
        """The same problems, located in `path`."""
        return ConfigError(self.field, self.reason, path=path, line=self.line, problems=self.problems)


# ----- per-field rules (kept in the annotations so parse_field applies them too) -----


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _check_index_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?", value):
        raise ValueError(
            f"must be 1-45 lowercase letters, digits or '-', not starting or ending with '-', got {value!r}"
        )
    return value


def _check_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not text or text != text.strip():
        raise ValueError("must be non-empty without surrounding whitespace")
    if text == _MASK:
        raise ValueError("is the masked placeholder, not a key; type the real key")
    return value


def _nonempty_path(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty (leave it unset instead)")
    return value


def _env_secret(var: str) -> SecretStr | None:
    value = os.environ.get(var, "").strip()
    return SecretStr(value) if value else None


Url = Annotated[str, AfterValidator(_check_url)]
IndexName = Annotated[str, AfterValidator(_check_index_name)]
Secret = Annotated[SecretStr, AfterValidator(_check_secret)]
UserPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(Path.expanduser)]


def _f(default: Any = ..., *, group: str, description: str, **kwargs: Any) -> Any:
    """A Field tagged with its Config-screen group."""
    if "default_factory" in kwargs:
        return Field(description=description, json_schema_extra={"group": group}, **kwargs)
    return Field(default, description=description, json_schema_extra={"group": group}, **kwargs)


class TrainingConfig(BaseModel):
    """Everything a training run needs. Construct directly, from a preset, from TOML, or with overrides."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    # ===== backend =====
    backend: Literal["local", "ionq", "emulator"] = _f(
        "local", group="backend", description="Where circuits run: local simulator, IonQ cloud, or the IonQ emulator"
    )
    quantum_target: Literal["simulator", "qpu.aria-1", "qpu.forte-1"] = _f(
        "simulator", group="backend", description="IonQ target; qpu.* targets cost money and need max_cost_usd"
    )
    quantum_sdk: Literal["cirq", "qiskit"] = _f(
        "cirq", group="backend", description="SDK for the interop export of circuits (cirq or qiskit objects)"
    )
    quantum_api_key: Secret | None = _f(
        group="backend",
        description="IonQ API key (default: env IONQ_API_KEY); never written to files",
        validate_default=True,
        default_factory=lambda: _env_secret("IONQ_API_KEY"),
    )
    ionq_api_url: Url = _f(
        group="backend",
        description="IonQ API base URL (default: env IONQ_API_URL, else the v0.4 API)",
        validate_default=True,
        default_factory=lambda: os.environ.get("IONQ_API_URL", "").strip() or DEFAULT_IONQ_API_URL,
    )
    noise_model: Literal["ideal", "aria-1", "forte-1"] = _f(
        "ideal", group="backend", description="Noise model for simulators; also picks the native gate family"
    )
    max_cost_usd: float | None = _f(
        None, group="backend", gt=0, description="Cost cap in USD for a QPU run; required before a QPU run starts"
    )

    # ===== model (architecture and data) =====
    n_qubits: int = _f(8, group="model", ge=1, le=16, description="Qubits in the variational circuit")
    circuit_depth: int = _f(2, group="model", ge=1, le=64, description="Variational layers (rotations + entangler)")
    entanglement: Literal["linear", "full", "circular"] = _f(
        "linear", group="model", description="Entangler wiring of each layer"
    )
    dataset: Literal["moons", "circles", "xor", "blobs", "csv"] = _f(
        "moons", group="model", description="Built-in synthetic data set, or csv (needs dataset_path)"
    )
    dataset_path: UserPath | None = _f(None, group="model", description="CSV file to train on (dataset = csv)")
    label_column: str = _f("label", group="model", min_length=1, description="CSV column holding the label")
    n_samples: int = _f(200, group="model", ge=4, le=100_000, description="Samples generated for a synthetic data set")
    n_features: int | None = _f(
        None, group="model", ge=1, le=64, description="Features of xor / blobs (None = 2); moons and circles are 2-D"
    )
    n_blobs: int | None = _f(None, group="model", ge=2, le=16, description="Classes of the blobs data set (None = 2)")
    data_noise: float | None = _f(
        None, group="model", ge=0, le=10, description="Noise of a synthetic data set (None = its default)"
    )
    validation_split: float = _f(0.2, group="model", gt=0, le=0.9, description="Fraction held out for validation")

    # ===== optimization =====
    learning_rate: float = _f(0.01, group="optimization", gt=0, le=10, description="Optimizer step size")
    batch_size: int = _f(10, group="optimization", ge=1, le=10_000, description="Training samples per step")
    epochs: int = _f(5, group="optimization", ge=1, le=10_000, description="Passes over the training split")
    optimizer: Literal["adam", "sgd"] = _f("adam", group="optimization", description="Parameter update rule")
    gradient_method: Literal["spsa_parallel", "spsa", "parameter_shift", "finite_diff"] = _f(
        "spsa_parallel", group="optimization", description="Gradient estimator"
    )
    momentum: float = _f(0.9, group="optimization", ge=0, lt=1, description="SGD momentum / Adam beta1")
    weight_decay: float = _f(0.0, group="optimization", ge=0, description="L2 penalty on the parameters")
    use_gradient_clipping: bool = _f(False, group="optimization", description="Clip the gradient norm")
    gradient_clip_value: float = _f(1.0, group="optimization", gt=0, description="Max gradient norm when clipping")
    spsa_c_initial: float = _f(0.1, group="optimization", gt=0, description="SPSA perturbation size c (radians)")
    # 0.2, not the v3.4 implementation's 0.01: at 0.01 the circuit angles barely move and only the head
    # learns (default run on moons, seeds 0-2: val acc 0.72-0.90 at 0.01, 0.90-0.95 at 0.2).
    spsa_a_initial: float = _f(0.2, group="optimization", gt=0, description="SPSA gain a in a/(k+1+A)^alpha")
    spsa_alpha: float = _f(0.602, group="optimization", gt=0, le=1, description="SPSA gain decay exponent alpha")
    spsa_gamma: float = _f(0.101, group="optimization", gt=0, le=0.5, description="SPSA perturbation decay gamma")
    spsa_A: float | None = _f(
        None, group="optimization", ge=0, description="SPSA stability constant A (None = 10% of total steps)"
    )
    spsa_samples: int = _f(1, group="optimization", ge=1, le=100, description="SPSA perturbations averaged per step")
    early_stopping_patience: int = _f(
        0, group="optimization", ge=0, description="Epochs without validation improvement before stopping (0 = off)"
    )
    seed: int = _f(0, group="optimization", ge=0, lt=2**63, description="Seed for data, initial parameters and SPSA")

    # ===== execution =====
    shots_per_circuit: int = _f(
        1000, group="execution", ge=0, le=1_000_000, description="Shots per circuit (0 = exact, local backend only)"
    )
    max_concurrent_circuits: int = _f(
        50, group="execution", ge=1, le=5000, description="Max circuits per submitted job (IonQ allows 5000)"
    )
    max_queue_wait_time: float = _f(30.0, group="execution", gt=0, description="Seconds to wait for a queued job")
    retry_failed_circuits: bool = _f(True, group="execution", description="Resubmit circuits whose job failed")

    # ===== features (v3.4 performance switches) =====
    use_batch_api: bool = _f(True, group="features", description="Submit chunks as IonQ multi-circuit jobs")
    use_native_gates: bool = _f(True, group="features", description="Compile to GPI/GPI2/MS (Aria) or ZZ (Forte)")
    enable_smart_caching: bool = _f(True, group="features", description="Cache templates and bound circuits")
    adaptive_batch_sizing: bool = _f(False, group="features", description="Grow/shrink chunks from measured latency")
    connection_pool_size: int = _f(5, group="features", ge=1, le=64, description="Pooled HTTP connections")
    # On by default, unlike the v3.4 guide: our compression (fusion, cancellation, virtual Z) is verified
    # equal to its input, so there is no reason to send longer circuits. Off = gate-by-gate translation.
    enable_circuit_compression: bool = _f(True, group="features",
                                          description="Native compile fuses and cancels gates (off: gate by gate)")

    # ===== database =====
    store_backend: Literal["local", "pinecone"] = _f(
        "local", group="database", description="Vector store: embedded SQLite, or Pinecone (needs a key)"
    )
    embeddings_to_store: bool = _f(True, group="database", description="Write embeddings to the store at epoch ends")
    pinecone_api_key: Secret | None = _f(
        group="database",
        description="Pinecone API key (default: env PINECONE_API_KEY); never written to files",
        validate_default=True,
        default_factory=lambda: _env_secret("PINECONE_API_KEY"),
    )
    pinecone_environment: str = _f("us-east-1", group="database", min_length=1, description="Pinecone region")
    pinecone_index_name: IndexName = _f("quantum-ml-v34", group="database", description="Pinecone index name")

    # ===== monitoring =====
    log_interval: int = _f(10, group="monitoring", ge=1, description="Steps between log events")
    track_gradients: bool = _f(True, group="monitoring", description="Emit gradient norms with step metrics")
    checkpoint_interval: int = _f(10, group="monitoring", ge=1, description="Steps between checkpoints")
    checkpoint_directory: UserPath | None = _f(
        None, group="monitoring", description="Checkpoint folder (None = <run dir>/checkpoints)"
    )
    runs_dir: UserPath | None = _f(
        None, group="monitoring", description="Where run directories go (None = user data dir/qstore/runs)"
    )

    # ----- construction: pydantic errors become ConfigError -----

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _config_error(exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        """Validated assignment that leaves the config unchanged when the new value is refused."""
        if name not in type(self).model_fields:
            super().__setattr__(name, value)
            return
        old_value, old_set = self.__dict__.get(name), set(self.__pydantic_fields_set__)
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            self.__dict__[name] = old_value
            object.__setattr__(self, "__pydantic_fields_set__", old_set)
            raise _config_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> TrainingConfig:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @model_validator(mode="after")
    def _cross_field(self) -> TrainingConfig:
        problems: list[tuple[str, str]] = []
        if self.shots_per_circuit == 0 and self.backend != "local":
            problems.append(
                ("shots_per_circuit", f"0 (exact expectations) needs backend 'local', got backend {self.backend!r}")
            )
        if self.backend == "local" and self.quantum_target != "simulator":
            problems.append(
                (
                    "quantum_target",
                    f"backend 'local' only simulates, got {self.quantum_target!r} "
                    "(use backend 'ionq' for a QPU, or noise_model to imitate one)",
                )
            )
        if self.noise_model != "ideal" and self.quantum_target != "simulator":
            problems.append(
                ("noise_model", f"applies to the simulator only, got quantum_target {self.quantum_target!r}")
            )
        if self.backend == "ionq" and not _safe_for_key(self.ionq_api_url):
            problems.append(
                ("ionq_api_url", f"must be https (or loopback) to carry an API key, got {self.ionq_api_url!r}")
            )
        problems += self._data_problems()
        if self.store_backend == "pinecone" and self.pinecone_api_key is None:
            problems.append(("store_backend", "'pinecone' needs pinecone_api_key (or env PINECONE_API_KEY)"))
        if problems:
            raise ConfigError(problems[0][0], problems[0][1], problems=problems)
        return self

    def _data_problems(self) -> list[tuple[str, str]]:
        problems = []
        synthetic = self.dataset != "csv"
        if not synthetic and self.dataset_path is None:
            problems.append(("dataset_path", "required when dataset is 'csv'"))
        for name in ("n_features", "data_noise"):
            if not synthetic and getattr(self, name) is not None:
                problems.append((name, "only for synthetic data sets; unset it for dataset 'csv'"))
        if self.dataset in ("moons", "circles") and self.n_features not in (None, 2):
            problems.append(("n_features", f"dataset {self.dataset!r} is 2-dimensional, got {self.n_features}"))
        if self.dataset == "xor" and self.n_features == 1:
            problems.append(("n_features", "xor needs >= 2 features (parity), got 1"))
        if self.n_blobs is not None and self.dataset != "blobs":
            problems.append(("n_blobs", f"only for dataset 'blobs', got dataset {self.dataset!r}"))
        classes = (self.n_blobs or 2) if self.dataset == "blobs" else 2
        if synthetic and self.n_samples < 2 * classes:
            problems.append(("n_samples", f"must be >= {2 * classes} (2 per class), got {self.n_samples}"))
        return problems

    # ----- derived values -----

    @property
    def native_target(self) -> Literal["aria", "forte"]:
        """Native gate family to compile for: Forte (ZZ) for qpu.forte-1 or the forte-1 noise model, else Aria (MS)."""
        if self.quantum_target == "qpu.forte-1" or self.noise_model == "forte-1":
            return "forte"
        return "aria"

    @property
    def requires_cost_confirmation(self) -> bool:
        """True when a run would spend money on an IonQ QPU (the UI must confirm and a cap must be set)."""
        return self.backend == "ionq" and self.quantum_target.startswith("qpu.")

    @property
    def resolved_runs_dir(self) -> Path:
        """`runs_dir`, or the platform user data dir (XDG_DATA_HOME on Linux) + qstore/runs."""
        return self.runs_dir or platformdirs.user_data_path("qstore", appauthor=False) / "runs"

    def spsa_stability(self, total_steps: int) -> float:
        """SPSA's A: `spsa_A`, or 10% of the run's total optimizer steps."""
        return self.spsa_A if self.spsa_A is not None else 0.1 * total_steps

    def check_runnable(self) -> None:
        """Raise ConfigError when a run cannot start: missing key, missing cost cap, missing data file."""
        problems: list[tuple[str, str]] = []
        if self.backend == "ionq" and self.quantum_api_key is None:
            problems.append(("quantum_api_key", "backend 'ionq' needs an API key: set env IONQ_API_KEY"))
        if self.requires_cost_confirmation and self.max_cost_usd is None:
            problems.append(
                ("max_cost_usd", f"a run on {self.quantum_target!r} costs money: set a cost cap in USD first")
            )
        if self.dataset == "csv" and self.dataset_path is not None and not self.dataset_path.is_file():
            problems.append(("dataset_path", f"file not found: {self.dataset_path}"))
        if problems:
            raise ConfigError(problems[0][0], problems[0][1], problems=problems)

    # ----- other ways in -----

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainingConfig:
        """One of the v3.4 guide's recommended configurations, with typed overrides on top."""
        if name not in PRESETS:
            raise ConfigError("preset", f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def with_overrides(self, overrides: Mapping[str, str]) -> TrainingConfig:
        """A new config with `key=value` strings (CLI --set, TUI inputs) parsed and validated together."""
        parsed: dict[str, Any] = {}
        problems: list[tuple[str | None, str]] = []
        for name, raw in overrides.items():
            try:
                parsed[name] = parse_field(name, raw)
            except ConfigError as exc:
                problems += exc.problems
        if problems:
            raise ConfigError(problems[0][0], problems[0][1], problems=problems)
        return type(self)(**{**self.model_dump(), **parsed})


def _safe_for_key(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _field_groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name, info in TrainingConfig.model_fields.items():
        groups.setdefault(info.json_schema_extra["group"], []).append(name)  # type: ignore[index]
    return groups


FIELD_GROUPS: dict[str, list[str]] = _field_groups()
_GROUP_OF = {name: group for group, names in FIELD_GROUPS.items() for name in names}

# The v3.4 guide's "Recommended Configurations". Production targets Aria, so it runs on IonQ and
# cannot start until max_cost_usd is set (check_runnable).
PRESETS: dict[str, dict[str, Any]] = {
    "development": {
        "quantum_target": "simulator",
        "batch_size": 5,
        "epochs": 3,
        "shots_per_circuit": 100,
        "use_batch_api": True,
        "use_native_gates": True,
        "enable_smart_caching": True,
    },
    "production": {
        "backend": "ionq",
        "quantum_target": "qpu.aria-1",
        "batch_size": 10,
        "epochs": 10,
        "shots_per_circuit": 1000,
        "use_batch_api": True,
        "use_native_gates": True,
        "enable_smart_caching": True,
        "adaptive_batch_sizing": True,
    },
    "research": {
        "quantum_target": "simulator",
        "batch_size": 20,
        "epochs": 20,
        "shots_per_circuit": 5000,
        "use_batch_api": True,
        "use_native_gates": True,
        "enable_smart_caching": True,
        "adaptive_batch_sizing": True,
        "connection_pool_size": 10,
    },
}


# ----- pydantic errors -> field: rule -----


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, SecretStr):
        return _MASK
    return str(value)


def _number(value: Any) -> str:
    """A bound as people write it: 0 not 0.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_RULES = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _describe(err: Mapping[str, Any], shown: str | None = None) -> list[tuple[str | None, str]]:
    """One pydantic error as (field, reason) pairs; `shown` replaces the input in 'got ...'."""
    loc = err.get("loc") or ()
    field = str(loc[0]) if loc else None
    kind, ctx = err["type"], err.get("ctx") or {}
    got = shown if shown is not None else _show(err.get("input"))
    if field in SECRET_FIELDS:
        got = _MASK
    if kind == "value_error" and isinstance(ctx.get("error"), ConfigError):
        return list(ctx["error"].problems)
    if kind in _RULES:
        key, symbol = _RULES[kind]
        reason = f"must be {symbol} {_number(ctx[key])}, got {got}"
    elif kind == "extra_forbidden":
        reason = "unknown field" + _did_you_mean(field or "", list(TrainingConfig.model_fields))
    elif kind == "literal_error":
        reason = f"must be one of {ctx['expected']}, got {got}"
    elif kind.startswith("int_"):
        reason = f"must be an integer, got {got}"
    elif kind.startswith("float_"):
        reason = f"must be a number, got {got}"
    elif kind == "finite_number":
        reason = f"must be a finite number, got {got}"
    elif kind.startswith("bool_"):
        reason = f"must be true or false, got {got}"
    elif kind == "string_too_short":
        reason = "must not be empty"
    elif kind == "string_type":
        reason = f"must be text, got {got}"
    elif kind == "value_error":
        reason = str(ctx.get("error", err.get("msg")))
    else:
        reason = f"{err.get('msg')}, got {got}"
    return [(field, reason)]


def _config_error(exc: ValidationError, shown: str | None = None, field: str | None = None) -> ConfigError:
    problems: list[tuple[str | None, str]] = []
    for err in exc.errors():
        problems += [(f if f is not None else field, r) for f, r in _describe(err, shown)]
    return ConfigError(problems[0][0], problems[0][1], problems=problems)


# ----- strings typed by a user -> typed, validated values -----

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
_NONE = {"", "none", "null"}


def _field(name: str):
    fields = TrainingConfig.model_fields
    if name not in fields:
        raise ConfigError(name, "unknown field" + _did_you_mean(name, list(fields)))
    return fields[name]


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = TrainingConfig.model_fields[name]
    annotation = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(annotation, config=ConfigDict(allow_inf_nan=False))


def field_choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of an enum field (for a Select), or None for free-form fields."""
    base, _ = _split_optional(_field(name).annotation)
    return tuple(typing.get_args(base)) if typing.get_origin(base) is Literal else None


def parse_field(name: str, raw: str) -> Any:
    """Convert what a user typed for field `name` to its type and check the field's own rules.

    Booleans accept true/false, yes/no, on/off, 1/0; optional fields take "" / none / null as None;
    enum values are case-insensitive. Rules relating several fields are checked when a whole
    config is built (`with_overrides`). Raises ConfigError naming the field.
    """
    info = _field(name)
    base, optional = _split_optional(info.annotation)
    text = raw.strip()
    if optional and text.lower() in _NONE:
        return None
    shown = _show(raw)
    if base is bool:
        if text.lower() in _TRUE:
            value: Any = True
        elif text.lower() in _FALSE:
            value = False
        else:
            raise ConfigError(name, f"must be true or false (yes/no, on/off, 1/0), got {shown}")
    elif base is int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(name, f"must be an integer, got {shown}") from None
        shown = text
    elif base is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(name, f"must be a number, got {shown}") from None
        shown = text
    elif typing.get_origin(base) is Literal:
        value = text.lower()
        choices = typing.get_args(base)
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
            raise ConfigError(name, f"must be one of {listed}, got {shown}" + _did_you_mean(value, choices))
    elif base is SecretStr:
        value = SecretStr(text)
        shown = _MASK
    elif base is Path:
        value = Path(text)
    else:
        value = text
    try:
        return _adapter(name).validate_python(value)
    except ValidationError as exc:
        raise _config_error(exc, shown, field=name) from None


def format_field(config: TrainingConfig, name: str) -> str:
    """A field's value as text that parse_field reads back; secrets show as a mask (never the key)."""
    _field(name)
    value = getattr(config, name)
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return _MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ----- TOML -----


def _toml_line(message: str) -> tuple[int | None, str]:
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
    if not match:
        return None, message
    return int(match.group(1)), f"invalid TOML: {message[: match.start()]} (column {match.group(2)})"


def load_config(path: str | os.PathLike[str]) -> TrainingConfig:
    """Read a TOML config (group tables like [optimization], or flat keys). Errors name the file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(None, "file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(None, f"cannot read: {exc}", path=path) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_line(str(exc))
        raise ConfigError(None, message, path=path, line=line) from None
    flat: dict[str, Any] = {}
    problems: list[tuple[str | None, str]] = []

    def take(key: str, value: Any, table: str | None) -> None:
        if key in SECRET_FIELDS:
            problems.append((key, f"secrets are never read from files; set env {SECRET_FIELDS[key]}"))
        elif key not in TrainingConfig.model_fields:
            problems.append((key, "unknown field" + _did_you_mean(key, list(TrainingConfig.model_fields))))
        elif table is not None and _GROUP_OF[key] != table:
            problems.append((key, f"belongs in [{_GROUP_OF[key]}], found in [{table}]"))
        elif key in flat:
            problems.append((key, "given twice"))
        else:
            flat[key] = value

    for key, value in document.items():
        if isinstance(value, dict):
            if key not in FIELD_GROUPS:
                problems.append((None, f"unknown section [{key}]" + _did_you_mean(key, list(FIELD_GROUPS))))
                continue
            for inner_key, inner_value in value.items():
                take(inner_key, inner_value, key)
        else:
            take(key, value, None)
    if problems:
        raise ConfigError(problems[0][0], problems[0][1], path=path, problems=problems)
    try:
        return TrainingConfig(**flat)
    except ConfigError as exc:
        raise exc.in_file(path) from None


def config_to_toml(config: TrainingConfig) -> str:
    """The TOML text save_config writes: one table per group, no secrets, no None values."""
    document: dict[str, dict[str, Any]] = {}
    for group, names in FIELD_GROUPS.items():
        table = {}
        for name in names:
            value = getattr(config, name)
            if name in SECRET_FIELDS or value is None:
                continue
            table[name] = str(value) if isinstance(value, Path) else value
        if table:
            document[group] = table
    header = "# qstore-tui training config. API keys are never stored here: set IONQ_API_KEY / PINECONE_API_KEY.\n"
    return header + tomli_w.dumps(document)


def save_config(config: TrainingConfig, path: str | os.PathLike[str]) -> None:
    """Write `config` as TOML atomically (temp file, fsync, rename): a crash leaves the old file or the new one."""
    atomic_write_bytes(path, config_to_toml(config).encode("utf-8"))
