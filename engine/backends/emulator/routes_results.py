"""Result routes: probabilities (with IonQ's aggregations), the aggregate of a multi-circuit job,
histogram and per-shot results, and the artifacts a job lists."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from aiohttp import web

from ...sim.measure import counts_to_histogram, probabilities_to_json
from .base import EmulatorBase
from .execute import CircuitResult
from .jobs import EmuJob
from .replies import error as _error


class ResultRoutes(EmulatorBase):
    def _completed(self, request: web.Request) -> tuple[EmuJob, list[CircuitResult]] | web.Response:
        job = self._job(request)
        if job is not None and job.dry_run:
            return _error(404, "Job not found or not yet completed: a dry run is validated and priced, never "
                               "executed, so it has no results.")
        if job is None or job.status(self.clock()) != "completed" or job.results is None:
            return _error(404, "Job not found or not yet completed.")
        return job, job.results

    @staticmethod
    def _aggregation(request: web.Request) -> str | web.Response:
        """Which aggregation a results request asks for: `sharpen=true` (cirq-ionq, the spec) or
        `aggregation=average|voting` (newer qiskit-ionq); average by default."""
        q = request.query
        sharpen = q.get("sharpen")
        if sharpen is not None and sharpen.lower() not in ("true", "false"):
            return _error(400, '"sharpen" must be a boolean', ("sharpen",), "params")
        method = q.get("aggregation", "voting" if (sharpen or "").lower() == "true" else "average")
        if method not in ("average", "voting"):
            return _error(400, f'"aggregation" must be one of [average, voting] in the emulator, got {method!r}',
                          ("aggregation",), "params")
        return method

    @staticmethod
    def _distribution(r: CircuitResult, method: str) -> dict[str, float]:
        """A debiased result's aggregation; a job without debiasing has one distribution (IonQ ignores sharpen)."""
        return r.voting if method == "voting" and r.voting is not None else r.probabilities

    def _completed_with_method(
            self, request: web.Request) -> tuple[EmuJob, list[CircuitResult], str] | web.Response:
        """A completed job's results and the aggregation asked for, or the error response to send."""
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        method = self._aggregation(request)
        if isinstance(method, web.Response):
            return method
        return (*done, method)

    async def probabilities(self, request: web.Request) -> web.Response:
        asked = self._completed_with_method(request)
        if isinstance(asked, web.Response):
            return asked
        job, results, method = asked
        if job.child_ids:
            return _error(400, "this is a multi-circuit job: fetch /results/probabilities/aggregated")
        return web.json_response(self._distribution(results[0], method))

    def _aggregate(self, job: EmuJob, results: list[CircuitResult], method: str = "average") -> dict[str, Any]:
        pairs = [(cid, self._distribution(r, method)) for cid, r in self.store.child_results(job, results)]
        if self.settings.reverse_aggregates:
            pairs.reverse()
        return dict(pairs)

    async def aggregated(self, request: web.Request) -> web.Response:
        asked = self._completed_with_method(request)
        if isinstance(asked, web.Response):
            return asked
        job, results, method = asked
        if not job.child_ids:
            return _error(400, "this is not a multi-circuit job: fetch /results/probabilities")
        return web.json_response(self._aggregate(job, results, method))

    def _shot_counts(self, request: web.Request) -> np.ndarray | web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        if job.child_ids:
            return _error(404, "Histogram and per-shot results are per circuit: fetch them from each child job.")
        counts = results[0].counts
        if counts is None:
            return _error(404, "The ideal simulator returns exact probabilities: no histogram or per-shot results.")
        return counts

    async def histogram(self, request: web.Request) -> web.Response:
        counts = self._shot_counts(request)
        return counts if isinstance(counts, web.Response) else web.json_response(counts_to_histogram(counts))

    async def shots(self, request: web.Request) -> web.Response:
        counts = self._shot_counts(request)
        return counts if isinstance(counts, web.Response) else web.json_response(self._shot_list(request, counts))

    @staticmethod
    def _shot_list(request: web.Request, counts: np.ndarray) -> list[str]:
        """One outcome per shot, in a shot order that is random but the same on every request."""
        seed = int.from_bytes(uuid.UUID(request.match_info["id"]).bytes[:8], "little")
        order = np.random.default_rng(seed).permutation(np.repeat(np.arange(counts.shape[0]), counts))
        return [str(int(k)) for k in order]

    async def artifact(self, request: web.Request) -> web.Response:
        done = self._completed(request)
        if isinstance(done, web.Response):
            return done
        job, results = done
        art = request.match_info["artifact"]
        if art == "probabilities-aggregate" and job.child_ids:
            return web.json_response(self._aggregate(job, results))
        if job.child_ids:
            return _error(404, "Job or artifact not found.")
        r = results[0]
        if art == "probabilities":
            return web.json_response(r.probabilities)
        if art in ("histogram", "shots") and r.counts is not None:
            return web.json_response(counts_to_histogram(r.counts) if art == "histogram"
                                     else self._shot_list(request, r.counts))
        if art in ("aggregation-average", "aggregation-voting") and r.voting is not None:
            dist = r.voting if art.endswith("voting") else r.probabilities
            n = job.job.n_qubits
            shots = job.job.shots
            return web.json_response({"histogram": {"registers": {"output_all": {
                format(int(k), f"0{n}b"): p * shots for k, p in dist.items()}}}})
        for v in r.variants:
            if art == f"variant-{v.variant_id}-probabilities":
                return web.json_response(probabilities_to_json(v.counts / float(v.shots)))
            if art == f"variant-{v.variant_id}-histogram":
                return web.json_response(counts_to_histogram(v.counts))
        return _error(404, "Job or artifact not found.")
