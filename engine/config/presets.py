"""The v3.4 guide's "Recommended Configurations", as field values (typed overrides go on top).

Production targets Aria, so it runs on IonQ and cannot start until max_cost_usd is set (check_runnable).
"""

from __future__ import annotations

from typing import Any

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
