"""TrainingConfig: every field of the Q-Store v3.4 reference, grouped as the Config screen shows them, validated.

Per-field rules live in the field types (`fieldtypes.py`) and declarations; rules that relate fields live in
`_cross_field`; rules that depend on the outside world (API keys, files, cost caps) live in `check_runnable`.
Pydantic's errors leave as ConfigError (`errors.py`). Secrets come from the environment when not given and are
masked by `SecretStr` in repr/str/model_dump.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..fileio import error_text
from .errors import ConfigError, config_error
from .fieldtext import choices_of, format_text, parse_text
from .fieldtypes import (DEFAULT_IONQ_API_URL, CharacterizationSource, IndexName, IonQUrl, Secret, UserPath,
                         characterization_backend, env_secret)
from .presets import PRESETS


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
    quantum_target: Literal["simulator", "qpu.aria-1", "qpu.aria-2", "qpu.forte-1", "qpu.forte-enterprise-1"] = _f(
        "simulator", group="backend", description="IonQ target; qpu.* targets cost money and need max_cost_usd"
    )
    quantum_sdk: Literal["cirq", "qiskit"] = _f(
        "cirq", group="backend", description="SDK for the interop export of circuits (cirq or qiskit objects)"
    )
    quantum_api_key: Secret | None = _f(
        group="backend",
        description="IonQ API key (default: env IONQ_API_KEY); never written to files",
        validate_default=True,
        default_factory=lambda: env_secret("IONQ_API_KEY"),
    )
    ionq_api_url: IonQUrl = _f(
        group="backend",
        description="IonQ API base URL (default: env IONQ_API_URL, else the v0.4 API)",
        validate_default=True,
        default_factory=lambda: os.environ.get("IONQ_API_URL", "").strip() or DEFAULT_IONQ_API_URL,
    )
    noise_model: Literal["ideal", "aria-1", "forte-1", "characterization"] = _f(
        "ideal", group="backend",
        description="Noise model for simulators (characterization: built from `characterization`); picks the gates",
    )
    max_cost_usd: float | None = _f(
        None, group="backend", gt=0, description="Cost cap in USD for a QPU run; required before a QPU run starts"
    )
    characterization: CharacterizationSource | None = _f(
        None, group="backend", min_length=1,
        description="A characterization JSON file, or an IonQ target (qpu.forte-1) whose latest one is read live",
    )
    # IonQ's own defaults unless set (see engine/backends/ionq_options.py): debiasing on for QPU jobs in qis
    # gates with >= 500 shots, off otherwise; results aggregated by average.
    ionq_debiasing: bool | None = _f(
        None, group="backend", description="IonQ debiasing: on, off, or unset for IonQ's default (QPU, >= 500 shots)"
    )
    ionq_aggregation: Literal["average", "voting"] = _f(
        "average", group="backend", description="How debiased results are aggregated: average, or voting (sharpened)"
    )
    readout_mitigation: Literal["off", "calibrate", "characterization"] = _f(
        "off", group="backend",
        description="Readout-error mitigation: off, calibration circuits, or the characterization's SPAM figure",
    )
    readout_calibration_shots: int = _f(
        10_000, group="backend", ge=100, le=1_000_000, description="Shots per readout calibration circuit"
    )
    dry_run: bool = _f(
        False, group="backend", description="Validate and price every payload with IonQ's dry_run; run nothing"
    )
    ionq_session_max_jobs: int | None = _f(
        None, group="backend", ge=1, description="Job limit of the run's IonQ session (None: planned jobs + 10%)"
    )
    ionq_session_max_minutes: int = _f(
        480, group="backend", ge=1, le=10_080, description="Time limit of the run's IonQ session, in minutes"
    )

    # ===== model (architecture and data) =====
    n_qubits: int = _f(8, group="model", ge=1, le=16, description="Qubits in the variational circuit")
    circuit_depth: int = _f(2, group="model", ge=1, le=64, description="Variational layers (rotations + entangler)")
    entanglement: Literal["linear", "full", "circular"] = _f(
        "linear", group="model", description="Entangler wiring of each layer"
    )
    encoding: Literal["angle", "reupload"] = _f(
        "angle", group="model", description="Input encoding: once (angle) or before every layer (reupload)"
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
    # "auto" is adjoint for exact local runs (shots_per_circuit 0, noise_model ideal) and spsa_parallel, the
    # v3.4 default, otherwise: see `gradient_estimator`.
    gradient_method: Literal["spsa_parallel", "spsa", "parameter_shift", "finite_diff", "adjoint", "auto", "qnspsa",
                             "shot_adaptive"] = _f(
        "auto", group="optimization",
        description="Gradient estimator (auto: adjoint for exact local runs, else spsa_parallel)",
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
    qnspsa_regularization: float = _f(
        1e-3, group="optimization", gt=0, le=1, description="QN-SPSA metric regularization beta (added to |g|)"
    )
    qnspsa_blocking: bool = _f(
        False, group="optimization", description="QN-SPSA: refuse a step that raises the loss (one more batch a step)"
    )
    shot_lipschitz: float = _f(
        1.0, group="optimization", gt=0, description="shot_adaptive: Lipschitz bound L of the gradient (lr < 2/L)"
    )
    shot_budget: int | None = _f(
        None, group="optimization", ge=1, description="Shots the training steps may spend in all (None = no cap)"
    )
    preflight_initializations: int = _f(
        0, group="optimization", ge=0, le=200,
        description="Random initializations of the gradient-variance preflight before a run (0 = off)"
    )
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
        group="database", default_factory=lambda: "pinecone" if env_secret("PINECONE_API_KEY") else "local",
        description="Vector store: embedded SQLite, or Pinecone (default when PINECONE_API_KEY is set)",
    )
    embeddings_to_store: bool = _f(True, group="database", description="Write embeddings to the store at epoch ends")
    pinecone_api_key: Secret | None = _f(
        group="database",
        description="Pinecone API key (default: env PINECONE_API_KEY); never written to files",
        validate_default=True,
        default_factory=lambda: env_secret("PINECONE_API_KEY"),
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
            raise config_error(exc, known=list(type(self).model_fields)) from None

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
            raise config_error(exc, known=list(type(self).model_fields)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> TrainingConfig:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc, known=list(cls.model_fields)) from None

    @model_validator(mode="after")
    def _cross_field(self) -> TrainingConfig:
        problems: list[tuple[str, str]] = []
        if self.shots_per_circuit == 0 and self.backend != "local":
            problems.append(
                ("shots_per_circuit", f"0 (exact expectations) needs backend 'local', got backend {self.backend!r}")
            )
        if self.gradient_method == "adjoint" and not self.exact_local:
            problems.append(("gradient_method", "'adjoint' needs exact expectations on the local simulator (backend "
                                                "'local', shots_per_circuit 0, noise_model 'ideal'); on IonQ targets "
                                                "use parameter_shift or spsa_parallel"))
        problems += self._frugal_problems()
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
        problems += self._qpu_problems()
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

    def _qpu_problems(self) -> list[tuple[str, str]]:
        """IonQ job settings, characterization noise, readout mitigation and dry runs that cannot work."""
        problems: list[tuple[str, str]] = []
        if self.noise_model == "characterization" and self.characterization is None:
            problems.append(("characterization", "noise_model 'characterization' needs a JSON file or an IonQ target"))
        if self.noise_model != "ideal" and self.shots_per_circuit == 0:  # noise is simulated on measured shots
            problems.append(("noise_model", f"{self.noise_model!r} is simulated on measured shots: needs "
                                            "shots_per_circuit > 0"))
        if self.noise_model == "characterization" and self.backend == "ionq":
            problems.append(("noise_model", "IonQ's cloud simulator takes named models only; 'characterization' "
                                            "runs on backend 'local' or 'emulator'"))
        if self.readout_mitigation == "characterization" and self.characterization is None:
            problems.append(("characterization", "readout_mitigation 'characterization' needs a JSON file or an "
                                                 "IonQ target"))
        if self.readout_mitigation != "off" and self.shots_per_circuit == 0:
            problems.append(("readout_mitigation", "mitigates measured shots: needs shots_per_circuit > 0"))
        if self.dry_run and self.backend == "local":
            problems.append(("dry_run", "a dry run asks IonQ to validate and price jobs: needs backend 'ionq' or "
                                        "'emulator'"))
        if self.ionq_debiasing is not None or self.ionq_aggregation != "average":
            if self.backend == "local":
                field = "ionq_debiasing" if self.ionq_debiasing else "ionq_aggregation"
                if self.ionq_debiasing is not False or self.ionq_aggregation != "average":
                    problems.append((field, "IonQ error mitigation needs backend 'ionq' or 'emulator'"))
            else:
                from ..backends.ionq_options import ErrorMitigation

                em = ErrorMitigation(self.ionq_debiasing, self.ionq_aggregation)
                problems += [(p.field, p.message) for p in
                             em.problems(self.quantum_target, self.shots_per_circuit, self.use_native_gates)]
        return problems

    def _frugal_problems(self) -> list[tuple[str, str]]:
        """QN-SPSA / shot-adaptive / shot budget rules (engine/optimizers/)."""
        problems = []
        if self.gradient_method == "shot_adaptive":
            if self.shots_per_circuit == 0:
                problems.append(("gradient_method", "'shot_adaptive' chooses shot counts: needs shots_per_circuit > 0 "
                                                    "(its minimum shots per term)"))
            if self.learning_rate * self.shot_lipschitz >= 2:
                problems.append(("learning_rate", f"shot_adaptive needs learning_rate < 2 / shot_lipschitz = "
                                                  f"{2 / self.shot_lipschitz:.6g}, got {self.learning_rate}"))
        if self.shot_budget is not None and self.shots_per_circuit == 0:
            problems.append(("shot_budget", "counts measured shots: needs shots_per_circuit > 0"))
        if self.qnspsa_blocking and self.gradient_method != "qnspsa":
            problems.append(("qnspsa_blocking", f"only for gradient_method 'qnspsa', got {self.gradient_method!r}"))
        return problems

    def _data_problems(self) -> list[tuple[str, str]]:
        problems = []
        synthetic = self.dataset != "csv"
        if not synthetic and self.dataset_path is None:
            problems.append(("dataset_path", "required when dataset is 'csv'"))
        for name in ("n_features", "data_noise"):
            if not synthetic and getattr(self, name) is not None:
                problems.append((name, "only for synthetic data sets; unset it for dataset 'csv'"))
        if synthetic and self.dataset_path is not None:  # a CSV named but a synthetic set trained: said, not ignored
            problems.append(("dataset_path", f"only for dataset 'csv', got dataset {self.dataset!r} (set dataset = "
                                             "'csv' to train on the file, or unset dataset_path)"))
        if synthetic and self.label_column != "label":
            problems.append(("label_column", f"only for dataset 'csv', got dataset {self.dataset!r}"))
        if self.preflight_initializations == 1:
            problems.append(("preflight_initializations", "a variance needs >= 2 initializations (0 = off), got 1"))
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
    def exact_local(self) -> bool:
        """Exact expectations on the embedded simulator: what the adjoint method differentiates."""
        return self.backend == "local" and self.shots_per_circuit == 0 and self.noise_model == "ideal"

    @property
    def gradient_estimator(self) -> str:
        """The gradient method a run uses: `gradient_method` with "auto" resolved."""
        if self.gradient_method != "auto":
            return self.gradient_method
        return "adjoint" if self.exact_local else "spsa_parallel"

    @property
    def native_target(self) -> Literal["aria", "forte"]:
        """Native gate family to compile for: Forte (ZZ) for qpu.forte-1 or the forte-1 noise model, else Aria (MS)."""
        if self.quantum_target in ("qpu.forte-1", "qpu.forte-enterprise-1") or self.noise_model == "forte-1":
            return "forte"
        if self.noise_model == "characterization" and self.characterization is not None:
            source = self.characterization  # a target's name, or the backend its file's body names (not its name)
            if "forte" in (source if source.startswith("qpu.") else characterization_backend(source)):
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
        if self.dataset == "csv" and self.dataset_path is not None:
            try:
                found = self.dataset_path.is_file()
            except OSError as exc:  # is_file raises for a name too long for the file system, a loop of links, ...
                problems.append(("dataset_path", error_text(exc)))
            else:
                if not found:
                    what = "not a regular file" if self.dataset_path.exists() else "file not found"
                    problems.append(("dataset_path", f"{what}: {self.dataset_path}"))
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
                parsed[name] = parse_text(type(self), name, raw)
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
        extra = info.json_schema_extra
        assert isinstance(extra, dict), name  # every field is declared with _f(group=...)
        groups.setdefault(str(extra["group"]), []).append(name)
    return groups


FIELD_GROUPS: dict[str, list[str]] = _field_groups()
GROUP_OF: dict[str, str] = {name: group for group, names in FIELD_GROUPS.items() for name in names}
# The v3.4 performance switches: RunStarted.features and the report's "Features Enabled" use these names.
FEATURE_SWITCHES: tuple[str, ...] = ("use_batch_api", "use_native_gates", "enable_smart_caching",
                                     "adaptive_batch_sizing", "enable_circuit_compression")


# ----- typed text for the CLI's --set and the Config screen, bound to TrainingConfig -----


def parse_field(name: str, raw: str) -> Any:
    """What a user typed for field `name`, converted and checked against the field's own rules (see parse_text)."""
    return parse_text(TrainingConfig, name, raw)


def format_field(config: TrainingConfig, name: str) -> str:
    """A field's value as text that parse_field reads back; secrets show as a mask (never the key)."""
    return format_text(config, name)


def field_choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of an enum field (for a Select), or None for free-form fields."""
    return choices_of(TrainingConfig, name)
