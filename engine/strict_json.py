"""JSON that every reader takes: NaN and infinity (a diverged loss) written as null.

Python's json writes them as NaN and Infinity, which jq, JavaScript and most other readers refuse; report.json,
`compare --format json` and `export --format json` are for those tools. (The event log keeps them as NaN and
Infinity instead: it is read back by pydantic, which takes both, and null there would lose what happened.)
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """`value` (dicts, lists, scalars) with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def dumps(value: Any, **kw: Any) -> str:
    """json.dumps of strict(value); allow_nan=False, so a non-finite number that slipped through is an error."""
    return json.dumps(strict(value), allow_nan=False, **kw)
