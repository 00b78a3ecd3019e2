"""How a message quotes what someone gave: in quotes, and a long value (a paste gone wrong, a 5,000-digit cell)
cut with its length, so that every error stays one readable line."""

from __future__ import annotations

SHOWN_CHARS = 40


def quoted(text: str) -> str:
    """`text` as repr() quotes it, cut after SHOWN_CHARS characters with its length."""
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]!r}... ({len(text):,} characters)"
    return repr(text)


def unquoted(text: str) -> str:
    """A number's text as typed, cut the same way."""
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"


def printable(text: str) -> str:
    """`text` with its control characters (a line break, an escape sequence in a folder's name) written as repr()
    writes them, so that a table cell stays one cell on one line and never drives the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
