"""Native gate compiler: qis circuits and templates to IonQ native gates, verified by our simulator."""

from .characterization import ARIA_DEFAULT, FORTE_DEFAULT, Characterization, Estimate, default_characterization, estimate
from .errors import CompilationError, ConnectivityError, UnsupportedGateError
from .native import CompileResult, NativeGateCompiler
from .program import CompiledTemplate, undo_permutation
from .stats import CompilerStats, CompilerTotals
from .verify import verify

__all__ = [
    "ARIA_DEFAULT", "FORTE_DEFAULT", "Characterization", "CompilationError", "CompileResult", "CompiledTemplate",
    "ConnectivityError",
    "CompilerStats", "CompilerTotals", "Estimate", "NativeGateCompiler", "UnsupportedGateError",
    "default_characterization", "estimate", "undo_permutation", "verify",
]
