"""TOML with a depth limit: hostile nesting is refused with a line number instead of a RecursionError.

`tomllib` parses arrays and inline tables recursively, so `a = [[[[...]]]]` a few hundred levels
deep exhausts the interpreter's stack; dotted keys (`a.b.c...`) build deep dicts that later code
walks recursively. Every TOML file we read (configs, themes, sweep spaces) goes through `loads`,
which scans the nesting of brackets and braces outside strings and comments before parsing, then
checks the depth of the parsed document (iteratively). Nothing we read needs more than a handful
of levels; `MAX_DEPTH` leaves ample room.
"""

from __future__ import annotations

import re
import sys
import tomllib
from typing import Any

MAX_DEPTH = 32
MAX_CHARS = 1_000_000  # a config or theme is a few kB; a bigger file is a mistake, not a slow parse


class TomlError(ValueError):
    """The text is not acceptable TOML; `line` (1-based) says where when known."""

    def __init__(self, message: str, *, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line is not None else message)


def _cannot_nest_deeper(text: str, limit: int) -> bool:
    """A quick bound: without inline tables, nesting is at most the '[' in the text plus a table header's and a
    key's dotted parts, each at most one more than the dots on its line. Most files (every config.toml a run
    writes) pass, and skip the lexer below, which costs ~1 ms a file in Python (2 s of listing 2,000 runs)."""
    if "{" in text:
        return False
    dots = max((line.count(".") for line in text.splitlines()), default=0)
    return text.count("[") + 2 * (dots + 1) <= limit


def _nesting_problem(text: str, limit: int) -> tuple[int, str] | None:
    """(line, what) where nesting first exceeds `limit`, or None.

    A small lexer: it skips comments and the four kinds of strings so that brackets inside them do
    not count, and it counts the parts of each dotted key (`a.b.c`, in a table header or before an
    `=`), which tomllib would otherwise expand in quadratic time. It only has to be right about
    nesting; tomllib still judges the syntax.
    """
    stack: list[str] = []  # open "[" (array or header) and "{" (inline table)
    line, i, n = 1, 0, len(text)
    in_key, dots = True, 0  # a key starts each line outside arrays, and after "{" or "," in an inline table
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if not stack or stack[-1] == "header":
                stack.clear()  # a header never spans lines; tomllib reports a broken one
                in_key, dots = True, 0
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if text[j] == "\n" and len(quote) == 1:
                    break  # an unterminated one-line string: tomllib reports it
                j += 1
            line += text.count("\n", i, min(j, n))
            i = j + len(quote)
            continue
        elif c == "[":
            header = in_key and (not stack or stack[-1] == "header")
            stack.append("header" if header else "[")
            if len(stack) > limit:
                return line, f"nested more than {limit} levels deep"
        elif c == "{":
            stack.append("{")
            in_key, dots = True, 0
            if len(stack) > limit:
                return line, f"nested more than {limit} levels deep"
        elif c in "]}":
            if stack:
                stack.pop()
            in_key = False
        elif c == "=" and in_key:
            in_key = False
        elif c == "," and stack and stack[-1] == "{":
            in_key, dots = True, 0
        elif c == "." and in_key:
            dots += 1
            if dots >= limit:
                return line, f"a dotted key with more than {limit} parts"
        i += 1
    return None


def _document_depth(document: dict[str, Any]) -> int:
    deepest = 0
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def loads(text: str, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> dict[str, Any]:
    """`tomllib.loads` that refuses nesting deeper than `max_depth` and text longer than `max_chars`, and reads past
    a leading byte-order mark (Windows editors write one; tomllib calls it an invalid statement)."""
    text = text.removeprefix("\ufeff")
    if len(text) > max_chars:
        raise TomlError(f"{len(text):,} characters is more than the {max_chars:,} a TOML file here may have")
    problem = None if _cannot_nest_deeper(text, max_depth) else _nesting_problem(text, max_depth)
    if problem is not None:
        raise TomlError(problem[1], line=problem[0])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(f"invalid TOML: {exc}") from None
    except ValueError as exc:  # tomllib's int() of a literal longer than Python reads (it crashed the CLI: exit 1)
        limit = sys.get_int_max_str_digits()
        long_run = re.compile(r"[0-9_]{%d,}" % (limit + 1))
        line = next((n for n, row in enumerate(text.splitlines(), 1) if long_run.search(row)), None)
        if line is None:
            raise TomlError(f"invalid TOML: {exc}") from None
        raise TomlError(f"an integer of more than {limit:,} digits, more than Python reads", line=line) from None
    except RecursionError:  # the scan above should make this unreachable; never let it escape
        raise TomlError(f"nested more than {max_depth} levels deep") from None
    if _document_depth(document) > max_depth:
        raise TomlError(f"nested more than {max_depth} levels deep (tables or dotted keys)")
    return document
