"""PerformanceStats: everything a manager did since it was made, and the v3.4 guide's text report of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cache import CircuitCacheStats
    from ..compiler import CompilerTotals


@dataclass(frozen=True)
class PerformanceStats:
    """Everything the manager did since it was made; the figures of the performance report."""

    batches: int
    total_circuits: int
    circuits_executed: int
    circuits_failed: int
    total_time_ms: float
    throughput_circuits_per_sec: float
    api_calls: int
    circuits_submitted: int  # retries submit circuits again
    retries: int
    chunk_size: int
    size_decisions: int  # chunk size changes (each one a BatchSizeDecision event)
    size_evaluations: int  # chunks measured by adaptive sizing
    peak_in_flight: int
    stage_ms: dict[str, float]
    features: dict[str, bool]
    native_target: str | None
    cache: CircuitCacheStats | None
    compiler: CompilerTotals | None  # the compiler's totals: compiles, gates, reduction, time
    native_circuits_run: int = 0
    native_gates_run: int = 0

    @property
    def avg_time_per_circuit_ms(self) -> float:
        return self.total_time_ms / self.total_circuits if self.total_circuits else 0.0

    @property
    def avg_circuits_per_call(self) -> float:
        return self.circuits_submitted / self.api_calls if self.api_calls else 0.0

    @property
    def cache_hit_rate(self) -> float:
        return self.cache.template_hit_rate if self.cache else 0.0

    def text(self) -> str:
        """The v3.4 guide's report, every figure measured."""
        rule = "=" * 72
        lines = [rule, "CIRCUIT BATCH MANAGER - PERFORMANCE REPORT", rule, "", "Execution Summary:",
                 f"  Total Circuits: {self.total_circuits:,} ({self.circuits_failed:,} failed) in {self.batches:,} batches",
                 f"  Total Time: {self.total_time_ms / 1e3:,.3f}s",
                 f"  Avg Time/Circuit: {self.avg_time_per_circuit_ms:,.3f}ms",
                 f"  Avg Throughput: {self.throughput_circuits_per_sec:,.2f} circuits/sec",
                 "  Stage Times: " + ", ".join(f"{k} {v:,.1f}ms" for k, v in self.stage_ms.items() if v),
                 "", "Features Enabled:",
                 f"  Batch API: {self.features['use_batch_api']}",
                 f"  Native Gates: {self.features['use_native_gates']}"
                 + (f" ({self.native_target})" if self.native_target else ""),
                 f"  Smart Caching: {self.features['enable_smart_caching']}",
                 f"  Adaptive Batch Sizing: {self.features['adaptive_batch_sizing']} "
                 f"(chunk size {self.chunk_size:,}; {self.size_decisions:,} changes in {self.size_evaluations:,} chunks)",
                 "", "Circuit Cache:", self.cache.text() if self.cache else "  off (enable_smart_caching = false)",
                 "", "Native Gate Compiler:"]
        c = self.compiler
        if c is None:
            lines.append("  off (use_native_gates = false)")
        else:
            lines += [f"  Target: {self.native_target}",
                      f"  Templates Compiled: {c.compiles:,} ({c.compile_time_ms:,.1f}ms, "
                      f"{c.avg_compile_time_ms:,.1f}ms each)",
                      f"  Gates Compiled: {c.gates_in:,} qis -> {c.gates_out:,} native "
                      f"({c.n1q_out:,} one-qubit, {c.n2q_out:,} two-qubit)",
                      f"  Gate Reduction: {c.reduction_pct:.1f}% vs gate-by-gate translation "
                      f"({c.naive_gates_out:,} native gates)",
                      f"  Native Gates Run: {self.native_gates_run:,} in {self.native_circuits_run:,} circuits"]
        lines += ["", "Batch Client:",
                  f"  API Calls: {self.api_calls:,}",
                  f"  Circuits Submitted: {self.circuits_submitted:,} ({self.retries:,} chunk retries)",
                  f"  Avg Circuits/Call: {self.avg_circuits_per_call:,.1f}",
                  f"  Peak Circuits In Flight: {self.peak_in_flight:,}",
                  rule]
        return "\n".join(lines)
