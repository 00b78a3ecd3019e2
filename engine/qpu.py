"""What a run on IonQ (or with a QPU's live figures) adds to the session, from its config.

- `qpu_settings(cfg)`: the QpuRun settings (target, cap, session limits, debiasing, aggregation).
- `characterization_body(cfg)`: the characterization a run uses (`characterization` = a JSON file, or an
  IonQ target whose latest characterization is read live with the run's key and URL), and where it came from.
- `noise_from_config(cfg)`: the local simulator's noise model for `noise_model = "characterization"`.
- `with_readout_mitigation(cfg, backend)`: the backend wrapped in readout-error mitigation when asked.
- `dry_run_batches(cfg, model, n_train, n_val)`: one training step's payloads (the step batch and the
  evaluation pass), in the form the run sends them (native gates when `use_native_gates`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ConfigError, TrainingConfig
from .fileio import user_path
from .events import DryRunReport, Log, MitigationInfo, _Event

if TYPE_CHECKING:
    from .backends.base import Backend
    from .backends.ionq_client import IonQClient
    from .backends.ionq_run import QpuRun, QpuRunSettings
    from .circuits.template import CircuitBatch
    from .mitigation import ReadoutCalibration
    from .model import QuantumModel
    from .sim.noise import NoiseModel

NOISE_FAMILIES = ("aria-1", "forte-1", "forte-enterprise-1")  # emulator noise models a characterization can feed


def qpu_settings(cfg: TrainingConfig) -> QpuRunSettings:
    from .backends.ionq_run import QpuRunSettings

    return QpuRunSettings(
        target=cfg.quantum_target, shots=max(1, cfg.shots_per_circuit), native=cfg.use_native_gates,
        max_cost_usd=cfg.max_cost_usd, session_max_jobs=cfg.ionq_session_max_jobs,
        session_max_minutes=cfg.ionq_session_max_minutes, debiasing=cfg.ionq_debiasing,
        aggregation=cfg.ionq_aggregation, dry_run=cfg.dry_run,
    )


async def characterization_body(cfg: TrainingConfig) -> tuple[dict[str, Any], str]:
    """(the characterization object, where it came from); ConfigError naming `characterization` otherwise."""
    source = cfg.characterization
    if source is None:
        raise ConfigError("characterization", "not set")
    if source.startswith("qpu."):
        body, origin = await _live(cfg, source)
    else:
        body, origin = _from_file(source)
    from .sim.noise import CharacterizationError, check_characterization

    try:  # every use (noise, mitigation, connectivity, the emulator) refuses the same mistyped figures
        check_characterization(body)
    except CharacterizationError as e:
        raise ConfigError("characterization", f"{origin}: {e}") from None
    return body, origin


def _from_file(source: str) -> tuple[dict[str, Any], str]:
    try:
        path = user_path(source)
    except ValueError as e:
        raise ConfigError("characterization", str(e)) from None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError("characterization", f"{path}: cannot read it: {e.strerror or e}") from None
    except ValueError as e:
        raise ConfigError("characterization", f"{path}: not valid JSON: {e}") from None
    except RecursionError:  # json's recursion limit: a hostile or broken file, never an internal error
        raise ConfigError("characterization", f"{path}: nested too deeply to be a characterization") from None
    if isinstance(body, Mapping) and isinstance(body.get("characterizations"), list):
        items = body["characterizations"]
        body = items[0] if items else None  # a saved page: IonQ lists the newest first
    if not isinstance(body, dict):
        raise ConfigError("characterization", f"{path}: a characterization must be a JSON object")
    return body, f"file {path}"


async def _live(cfg: TrainingConfig, target: str) -> tuple[dict[str, Any], str]:
    from .backends.ionq_backends import latest_characterization
    from .backends.ionq_client import IonQSettings
    from .backends.ionq_errors import IonQBadRequestError

    key = cfg.quantum_api_key.get_secret_value() if cfg.quantum_api_key else None
    try:
        async with IonQSettings(base_url=cfg.ionq_api_url, api_key=key or "-").client() as client:
            char = await latest_characterization(client, target)  # no key needed: characterizations are public
    except IonQBadRequestError as e:
        if e.status != 404:  # anything else is IonQ's to explain, not a wrong field
            raise
        raise ConfigError("characterization", f"IonQ has no backend {target!r} (404 from {cfg.ionq_api_url}); "
                                              "give a QPU target such as qpu.forte-1, or a JSON file") from None
    if char is None:
        raise ConfigError("characterization", f"IonQ lists no characterization for {target!r}")
    return dict(char.body), f"{target} characterization {char.id} ({char.date}), read live"


async def noise_from_config(cfg: TrainingConfig) -> NoiseModel:
    """The local noise model for `noise_model = "characterization"`, every figure saying where it comes from."""
    from .sim.noise import NOISE_MODELS, CharacterizationError, noise_model_from_characterization

    body, origin = await characterization_body(cfg)
    family = str(body.get("backend", "")).removeprefix("qpu.")
    try:
        return noise_model_from_characterization(body, name=family or "characterization",
                                                 defaults=NOISE_MODELS.get(family), origin=origin)
    except CharacterizationError as e:
        raise ConfigError("characterization", f"{origin}: {e}") from None


def emulator_noise(body: Mapping[str, Any]) -> tuple[str, str]:
    """(emulator target key, noise model name) that make the emulator simulate with this characterization."""
    backend = str(body.get("backend", ""))
    family = backend.removeprefix("qpu.")
    if family not in NOISE_FAMILIES:
        raise ConfigError("characterization", f"the emulator models {', '.join(NOISE_FAMILIES)}; this "
                                              f"characterization is of {backend or 'no backend'!r}")
    return backend, family


async def with_readout_mitigation(cfg: TrainingConfig, backend: Backend) -> Backend:
    """`backend`, or it wrapped in readout mitigation (calibration circuits, or the characterization's SPAM)."""
    if cfg.readout_mitigation == "off":
        return backend
    from .mitigation import ReadoutMitigatedBackend

    calibration = None
    if cfg.readout_mitigation == "characterization":
        calibration = await _spam_calibration(cfg)
    return ReadoutMitigatedBackend(backend, calibration=calibration,
                                   calibration_shots=cfg.readout_calibration_shots)


async def _spam_calibration(cfg: TrainingConfig) -> ReadoutCalibration:
    """The characterization's SPAM figure as a calibration; a bad one is the config's error, named like the noise
    path's (`characterization: file X: ...`), found while the backend is built, before any training."""
    from .mitigation import MitigationError, from_spam_fidelity
    from .sim.noise import CharacterizationError, spam_fidelity

    body, origin = await characterization_body(cfg)
    field = "characterization field 'fidelity.spam.median'"
    try:
        median = spam_fidelity(body)
        if median is None:
            raise ConfigError("characterization", f"{origin}: {field}: missing (readout mitigation needs it)")
        if not 0.5 < median <= 1.0:
            raise ConfigError("characterization", f"{origin}: {field}: {median!r} is outside (0.5, 1] (readout "
                                                  "mitigation cannot invert a SPAM fidelity of 0.5 or less)")
        return from_spam_fidelity(median, cfg.n_qubits, f"{origin}: SPAM median {median}")
    except (CharacterizationError, MitigationError) as e:
        raise ConfigError("characterization", f"{origin}: {e}") from None


def readout_line(backend: Backend) -> tuple[str, tuple[float, ...], tuple[float, ...]]:
    """What readout mitigation a backend applies, for the MitigationInfo event."""
    from .mitigation import ReadoutMitigatedBackend

    if not isinstance(backend, ReadoutMitigatedBackend):
        return "off", (), ()
    cals = list(backend.calibrations.values())
    if cals:
        return cals[0].source, cals[0].p01, cals[0].p10
    return f"calibration circuits ({backend.calibration_shots} shots each), measured at the first batch", (), ()


def dry_run_batches(cfg: TrainingConfig, model: QuantumModel, n_train: int, n_val: int) -> list[CircuitBatch]:
    """A step's rows and the evaluation pass at the current parameters, as the run would submit them."""
    from .circuits.template import CircuitBatch

    blocks = 2 * cfg.spsa_samples + 1 if cfg.gradient_estimator in ("spsa", "spsa_parallel") \
        else 2 * model.n_circuit_params + 1
    t = model.template
    theta = model.split()[0]
    out = []
    for rows in (cfg.batch_size * blocks, n_train + n_val):
        batch = CircuitBatch(t, np.tile(theta, (rows, 1)), np.full((rows, t.n_inputs), 0.5))
        if cfg.use_native_gates:
            from .compiler import NativeGateCompiler

            compiled = NativeGateCompiler(cfg.native_target, optimize=cfg.enable_circuit_compression)
            batch = compiled.compile_template(t).batch(batch.params, batch.inputs)
        out.append(batch)
    return out


class SessionQpu:
    """The session's IonQ extras in one place: started after pricing, told after every batch, finished always.

    After each batch it looks one batch ahead: when the next batch (as large as the largest of a step or an
    evaluation pass) would take the spend past `max_cost_usd`, it asks the trainer to stop, which writes a
    checkpoint before the next step, so no job that would pass the cap is ever submitted.
    """

    def __init__(self, cfg: TrainingConfig, emit: Callable[[_Event], object]):
        self.cfg = cfg
        self.emit = emit
        self.run: QpuRun | None = None
        self.note = ""  # said in RunFinished's message (why the run stopped, what a dry run found)
        self._lookahead_rows = 0
        self._readout_reported = False
        self._backend: Backend | None = None
        self._target_checked = False  # by check_target, before the characterization and the price are asked for

    async def start(self, backend: Backend, *, price_per_circuit_usd: float, planned_circuits: int,
                    n_train: int, n_val: int, n_circuit_params: int, spent_before_usd: float) -> None:
        from .mitigation import ReadoutMitigatedBackend

        self._backend = backend
        self._lookahead_rows = n_train + n_val
        inner = backend.inner if isinstance(backend, ReadoutMitigatedBackend) else backend
        # An IonQ backend exists only once its module is loaded: importing it here to ask would load httpx on the
        # event loop (~200 ms, the worst stall of a local run)
        ionq = sys.modules.get(f"{__package__}.backends.ionq")
        if ionq is None or not isinstance(inner, ionq.IonQBackend):
            if isinstance(backend, ReadoutMitigatedBackend):
                self.emit(MitigationInfo(readout=readout_line(backend)[0]))
            return
        from .backends.ionq_run import QpuRun

        self.run = QpuRun(qpu_settings(self.cfg), self.emit)
        await self.run.start(inner, price_per_circuit_usd=price_per_circuit_usd, planned_circuits=planned_circuits,
                             planned_jobs=planned_jobs(self.cfg, n_train, n_val, n_circuit_params),
                             spent_before_usd=spent_before_usd, readout=readout_line(backend),
                             target_checked=self._target_checked)

    async def check_target(self, backend: Backend) -> None:
        """Refuse a QPU target IonQ does not list (or lists retired), naming quantum_target, before anything asks
        IonQ about it: its characterization and its price answered a bare 404 or 400 first."""
        from .mitigation import ReadoutMitigatedBackend

        inner = backend.inner if isinstance(backend, ReadoutMitigatedBackend) else backend
        ionq = sys.modules.get(f"{__package__}.backends.ionq")
        if ionq is None or not isinstance(inner, ionq.IonQBackend):
            return
        from .backends.ionq_run import QpuRun

        await QpuRun(qpu_settings(self.cfg), self.emit).check_target(inner)
        self._target_checked = True

    def after_batch(self, rows: int, request_stop: Callable[[], None]) -> None:
        backend = self._backend
        if backend is not None and not self._readout_reported:
            line, p01, p10 = readout_line(backend)
            if p01:
                self._readout_reported = True
                event = (self.run.mitigation_event(line, p01, p10) if self.run is not None
                         else MitigationInfo(readout=line, readout_p01=list(p01), readout_p10=list(p10)))
                self.emit(event)
        ledger = self.run.ledger if self.run is not None else None
        if ledger is None or ledger.cap_usd is None or self.note:
            return
        self._lookahead_rows = max(self._lookahead_rows, rows)
        nxt = self._lookahead_rows * ledger.price_per_circuit_usd
        committed = ledger.spent_usd + ledger.reserved_usd
        if committed + nxt > ledger.cap_usd:
            self.note = (f"spend cap: ${committed:,.2f} spent, the next batch (~${nxt:,.2f}) would pass "
                         f"max_cost_usd ${ledger.cap_usd:,.2f}")
            self.emit(Log(level="warning", message=f"stopping at the next step with a checkpoint: {self.note}"))
            request_stop()

    async def coupling(self, client: IonQClient | None, model: QuantumModel) -> tuple[tuple[int, int], ...] | None:
        """The coupling map the native compiler must honour: the run's characterization's connectivity, or the
        QPU target's latest one read live; None (all-to-all) when there is none. The model is compiled against
        it here, so a gate on an uncoupled pair is refused (naming the pair) before anything runs."""
        cfg = self.cfg
        if not cfg.use_native_gates:
            return None  # qis jobs are placed on the hardware by IonQ's own compiler
        pairs: tuple[tuple[int, int], ...] | None = None
        origin = ""
        if cfg.characterization is not None:
            from .backends.ionq_backends import parse_characterization

            body, origin = await characterization_body(cfg)
            pairs = parse_characterization(body).connectivity
        elif client is not None and cfg.quantum_target.startswith("qpu."):
            from .backends.ionq_backends import latest_characterization

            char = await latest_characterization(client, cfg.quantum_target)
            if char is not None:
                pairs, origin = char.connectivity, f"{cfg.quantum_target} characterization {char.id}"
        if pairs is None:
            return None
        from .compiler import NativeGateCompiler

        compiler = NativeGateCompiler(cfg.native_target, optimize=cfg.enable_circuit_compression, coupling=pairs)
        await asyncio.to_thread(compiler.compile_template, model.template)  # ConnectivityError names the pair
        self.emit(Log(message=f"native compile honours the connectivity of {origin}: {len(pairs)} coupled pairs"))
        return pairs

    async def dry_run(self, model: QuantumModel, n_train: int, n_val: int) -> DryRunReport:
        from .backends.ionq_run import dry_run_step

        if self.run is None or self._backend is None:
            raise ConfigError("dry_run", "needs backend 'ionq' or 'emulator'")
        from .backends.ionq import IonQBackend
        from .mitigation import ReadoutMitigatedBackend

        backend = self._backend
        inner = backend.inner if isinstance(backend, ReadoutMitigatedBackend) else backend
        assert isinstance(inner, IonQBackend)
        from .cost import planned_circuits

        planned = planned_circuits(epochs=self.cfg.epochs, batch_size=self.cfg.batch_size, n_train=n_train,
                                   n_val=n_val, gradient_method=self.cfg.gradient_estimator,
                                   spsa_samples=self.cfg.spsa_samples, n_circuit_params=model.n_circuit_params)
        report = await dry_run_step(inner, dry_run_batches(self.cfg, model, n_train, n_val),
                                    shots=self.cfg.shots_per_circuit, planned_circuits=planned)
        self.emit(report)
        self.note = (f"dry run: {report.jobs} job(s) of {report.circuits} circuits validated and priced by IonQ, "
                     f"${report.per_circuit_usd:,.4f} per circuit, the run would cost ${report.planned_usd:,.2f} "
                     f"({planned:,} circuits); nothing ran ({report.executed} executed)")
        return report

    async def finish(self) -> None:
        """End the IonQ session (completed, failed, stopped or interrupted alike); a failure is logged."""
        if self.run is None:
            return
        from .backends.ionq_errors import IonQError

        try:
            await self.run.finish()
        except IonQError as e:
            self.emit(Log(level="error", message=str(e)))


def planned_jobs(cfg: TrainingConfig, n_train: int, n_val: int, n_circuit_params: int) -> int:
    """An upper bound on the IonQ jobs a run submits: every step's batches (a step may run its loss apart),
    each evaluation pass, and the readout calibration, each split into jobs of `max_concurrent_circuits`."""
    def jobs(rows: int) -> int:
        return -(-rows // cfg.max_concurrent_circuits)

    blocks = 2 * cfg.spsa_samples + 1 if cfg.gradient_method in ("spsa", "spsa_parallel") else 2 * n_circuit_params + 1
    steps = cfg.epochs * -(-n_train // cfg.batch_size)
    per_step = jobs(cfg.batch_size * blocks) + jobs(cfg.batch_size)
    return steps * per_step + cfg.epochs * (jobs(n_train) + jobs(max(n_val, 1))) + 1
