"""Pinecone's metadata filter language (the subset we use), compiled to a Python predicate.

Supported: `{"k": v}` (shorthand for $eq), `$eq $ne $gt $gte $lt $lte $in $nin` on a field, and
`$and` / `$or` over lists of filters; several keys in one dict are ANDed. Comparison is typed as in
Pinecone: a string never equals a number, and a bool is not the number 1. `$ne` and `$nin` match
records that lack the field; the ordering operators take numbers only. A filter is validated
completely when compiled, so a bad operator fails before any record is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .base import BadFilterError

Predicate = Callable[[dict[str, Any]], bool]

_MISSING = object()
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
FIELD_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")


def compile_filter(filter: dict[str, Any] | None) -> Predicate | None:
    """A predicate over a record's metadata, or None when the filter selects everything."""
    if filter is None:
        return None
    if not isinstance(filter, dict):
        raise BadFilterError(f"a filter must be a dict, got {type(filter).__name__}", operator="<filter>")
    if not filter:
        return None
    return _compile_dict(filter)


def _compile_dict(f: dict[str, Any]) -> Predicate:
    parts = [_compile_entry(key, cond) for key, cond in f.items()]
    if len(parts) == 1:
        return parts[0]
    return lambda m: all(p(m) for p in parts)


def _compile_entry(key: object, cond: Any) -> Predicate:
    if not isinstance(key, str) or not key:
        raise BadFilterError("field names must be non-empty strings", operator=repr(key))
    if key in ("$and", "$or"):
        if not isinstance(cond, list) or not cond or not all(isinstance(c, dict) and c for c in cond):
            raise BadFilterError("needs a non-empty list of non-empty filters", operator=key)
        subs = [_compile_dict(c) for c in cond]
        if key == "$and":
            return lambda m: all(p(m) for p in subs)
        return lambda m: any(p(m) for p in subs)
    if key.startswith("$"):
        raise BadFilterError("unknown operator (expected $and, $or, or a field name)", operator=key)
    if not isinstance(cond, dict):
        return _field_op(key, "$eq", cond)
    if not cond:
        raise BadFilterError("empty condition", operator=key)
    parts = [_field_op(key, op, operand) for op, operand in cond.items()]
    if len(parts) == 1:
        return parts[0]
    return lambda m: all(p(m) for p in parts)


def _kind(value: Any) -> str | None:
    """'bool', 'num' or 'str' for a value a filter can compare, else None."""
    t = type(value)
    if t is bool:
        return "bool"
    if t is int or (t is float and math.isfinite(value)):
        return "num"
    if t is str:
        return "str"
    return None


def _scalar(field: str, op: str, operand: Any) -> tuple[str, Any]:
    kind = _kind(operand)
    if kind is None:
        raise BadFilterError(
            f"operand for field '{field}' must be a string, finite number or bool, got {operand!r}", operator=op
        )
    return kind, operand


def _field_op(field: str, op: str, operand: Any) -> Predicate:
    if op in ("$eq", "$ne"):
        kind, want = _scalar(field, op, operand)

        def eq(m: dict[str, Any]) -> bool:
            v = m.get(field, _MISSING)
            return _kind(v) == kind and v == want

        return eq if op == "$eq" else (lambda m: not eq(m))
    if op in _ORDER_OPS:
        kind, bound = _scalar(field, op, operand)
        if kind != "num":
            raise BadFilterError(f"operand for field '{field}' must be a number, got {operand!r}", operator=op)
        cmp = _ORDER_OPS[op]
        return lambda m: _kind(v := m.get(field, _MISSING)) == "num" and cmp(v, bound)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise BadFilterError(f"operand for field '{field}' must be a list, got {operand!r}", operator=op)
        by_kind: dict[str, set[object]] = {"bool": set(), "num": set(), "str": set()}
        for item in operand:
            kind, value = _scalar(field, op, item)
            by_kind[kind].add(value)

        def member(m: dict[str, Any]) -> bool:
            v = m.get(field, _MISSING)
            kind = _kind(v)
            return kind is not None and v in by_kind[kind]

        return member if op == "$in" else (lambda m: not member(m))
    raise BadFilterError(
        f"unknown operator on field '{field}' (expected one of {' '.join(FIELD_OPERATORS)})", operator=op
    )
