"""Account routes: backends, characterizations, whoami and cost estimates."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from ...sim.noise import BUILTIN_CHARACTERIZATIONS, MODEL_NAMES, NOISE_MODELS
from .base import EmulatorBase
from .jobs import PROJECT_ID
from .payload import BACKENDS, MULTI, SINGLE
from .replies import error as _error, intish as _intish, not_found

NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-4f5e-9d7c-1a2b3c4d5e6f")
ESTIMATE_TYPES = (SINGLE, MULTI, "ionq.qasm3.v1")
QIS_GATES = ["x", "y", "z", "rx", "ry", "rz", "h", "s", "si", "v", "vi", "t", "ti", "not", "cnot", "swap",
             "xx", "yy", "zz"]


class AccountRoutes(EmulatorBase):
    async def estimate(self, request: web.Request) -> web.Response:
        q = request.query
        backend = q.get("backend")
        if backend not in BACKENDS:
            return _error(400, f'"backend" must be one of [{", ".join(BACKENDS)}]', ("backend",), "params")
        values: dict[str, int] = {}
        for key, default, lo, hi in (("qubits", 25, 1, 1000), ("shots", 1000, 1, 1_000_000),
                                     ("1q_gates", 0, 0, 10**9), ("2q_gates", 0, 0, 10**9)):
            try:
                values[key] = int(q.get(key, default))
            except ValueError:
                return _error(400, f'"{key}" must be an integer', (key,), "params")
            if not lo <= values[key] <= hi:
                return _error(400, f'"{key}" must be between {lo} and {hi}', (key,), "params")
        if "qubits" in q and values["qubits"] > self._qubits(backend):
            return _error(400, f'"qubits" must be at most {self._qubits(backend)} on {backend}, got {values["qubits"]}',
                          ("qubits",), "params")
        job_type = q.get("type", SINGLE)
        if job_type not in ESTIMATE_TYPES:
            return _error(400, f'"type" must be one of [{", ".join(ESTIMATE_TYPES)}]', ("type",), "params")
        flag = q.get("error_mitigation", "false").lower()
        if flag not in ("true", "false"):
            return _error(400, '"error_mitigation" must be a boolean', ("error_mitigation",), "params")
        em = flag == "true"
        t = self.settings.timing
        exec_s = t.execution_s(values["1q_gates"] + values["2q_gates"], values["shots"], 1)
        rate = self.settings.rates[backend]
        return web.json_response({
            "estimate_context": {"backend": backend, "type": job_type,
                                 "qubits": values["qubits"], "shots": values["shots"],
                                 "1q_gates": values["1q_gates"], "2q_gates": values["2q_gates"],
                                 "error_mitigation": em, "organization": None, "project": PROJECT_ID},
            "estimated_at": self.store.iso(self.clock()),
            "estimated_unit": "usd",
            "rate_card": {"id": f"emulator-{backend}", "rates": [{
                "sku": f"emulator-{backend}", "unit": "gates", "cost_1q_gate": rate.cost_1q_gate,
                "cost_2q_gate": rate.cost_2q_gate, "job_cost_minimum": rate.job_cost_minimum}]},
            "estimated_total_cost": self._price(backend, values["shots"], values["1q_gates"], values["2q_gates"]),
            "estimated_execution_time": int(round(exec_s * 1000)),
            "current_predicted_queue_time": int(round(t.queue_s * 1000)),
        })

    def _backend(self, name: str) -> dict[str, Any]:
        native = {"simulator": ["gpi", "gpi2", "ms", "zz"], "qpu.aria-1": ["gpi", "gpi2", "ms"],
                  "qpu.forte-1": ["gpi", "gpi2", "zz"], "qpu.forte-enterprise-1": ["gpi", "gpi2", "zz"]}[name]
        out: dict[str, Any] = {
            "backend": name, "status": "available", "qubits": self._qubits(name),
            "average_queue_time": int(round(self.settings.timing.queue_s * 1000)),
            "last_updated": self.store.iso(self.clock()), "degraded": False,
            "supported_gates": QIS_GATES, "supported_native_gates": native,
            "supported_error_mitigations": [] if name == "simulator" else ["debiasing"],
        }
        if name == "simulator":
            out["noise_models"] = list(MODEL_NAMES)
        else:
            out["characterization_id"] = self._characterization_id(name)
        return out

    @staticmethod
    def _characterization_id(backend: str) -> str:
        return str(uuid.uuid5(NAMESPACE, f"characterization:{backend}"))

    def _characterization(self, backend: str) -> dict[str, Any]:
        """A characterization body given in the settings (e.g. read from a file), served as it is; otherwise
        the emulator's own model of `backend`: the built-in body's fidelities and T1/T2, all-to-all
        connectivity and its gate time knob (timings are integers of seconds, as the spec types them)."""
        given = self.settings.characterizations.get(backend)
        if given is not None:
            return {**given, "id": self._characterization_id(backend), "backend": backend}
        model = NOISE_MODELS[backend.removeprefix("qpu.")]
        builtin = BUILTIN_CHARACTERIZATIONS[backend.removeprefix("qpu.")]
        q = self._qubits(backend)
        gate_s = _intish(self.settings.timing.exec_per_gate_s)
        timing: dict[str, Any] = {"1q": gate_s, "2q": gate_s, "readout": 0, "reset": 0}
        source_timing = builtin.get("timing")
        if isinstance(source_timing, dict):
            timing |= {k: source_timing[k] for k in ("t1", "t2") if k in source_timing}
        return {
            "id": self._characterization_id(backend), "backend": backend, "date": self.store.iso(self.store.started),
            "qubits": q, "connectivity": [[i, j] for i in range(q) for j in range(i + 1, q)],
            "fidelity": {"spam": {"median": model.spam}, "1q": {"median": model.f1q}, "2q": {"median": model.f2q}},
            "timing": timing,
        }

    async def backends(self, request: web.Request) -> web.Response:
        return web.json_response([self._backend(b) for b in BACKENDS])

    async def backend(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        return web.json_response(self._backend(name)) if name in BACKENDS else not_found()

    async def characterizations(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        if name not in BACKENDS:
            return not_found()
        for key, lo, hi in (("limit", 1, 10), ("page", 1, 10**6)):
            raw = request.query.get(key)
            if raw is None:
                continue
            try:
                value = int(raw)
            except ValueError:
                return _error(400, f'"{key}" must be an integer', (key,), "params")
            if not lo <= value <= hi:
                return _error(400, f'"{key}" must be between {lo} and {hi}', (key,), "params")
        items = [] if name == "simulator" else [self._characterization(name)]
        return web.json_response({"characterizations": items, "pages": 1 if items else 0})

    async def characterization(self, request: web.Request) -> web.Response:
        name = request.match_info["backend"]
        if name not in BACKENDS or name == "simulator" or request.match_info["id"] != self._characterization_id(name):
            return not_found()
        return web.json_response(self._characterization(name))

    async def whoami(self, request: web.Request) -> web.Response:
        i = self._key_index(request)
        return web.json_response({"key_id": str(uuid.uuid5(NAMESPACE, f"key:{i}")), "key_name": f"emulator key {i + 1}",
                                  "project_id": PROJECT_ID})
