"""What surrounds a session's bus: engine log records come in as Log events; secrets never go out.

`BusLogHandler` turns `logging` records of the `engine` logger (IonQ retries, store warnings) into Log events,
from any thread. `SecretScrubber` is the bus's first sink: it scrubs the API keys from every event's free text
before any other sink or subscriber sees it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Literal

from .events import Log, _Event

FREE_TEXT_FIELDS = ("message", "reason", "basis")
LogLevel = Literal["debug", "info", "warning", "error"]


class BusLogHandler(logging.Handler):
    """Log records become Log events through `emit`, called on `loop` (directly when already on its thread)."""

    _LEVELS: dict[int, LogLevel] = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
                                    logging.ERROR: "error"}

    def __init__(self, emit: Callable[[_Event], object], loop: asyncio.AbstractEventLoop):
        super().__init__(logging.INFO)
        self._emit, self._loop, self._loop_thread = emit, loop, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        level: LogLevel = self._LEVELS.get(record.levelno, "error" if record.levelno > logging.ERROR else "info")
        event = Log(level=level, message=f"{record.name}: {record.getMessage()}")
        if threading.get_ident() == self._loop_thread:
            self._emit(event)
        else:
            self._loop.call_soon_threadsafe(self._emit, event)


class SecretScrubber:
    """Scrub API keys from the free-text fields of an event, in place.

    Free text (messages, reasons) is where a server's echo or an exception can carry a key; the structured fields
    (kind, ids, paths, names) are written by the engine and are left alone, so a short key can never mangle them.
    """

    def __init__(self, secrets: Iterable[str]):
        self._secrets = [s for s in secrets if s]

    def __call__(self, event: _Event) -> None:
        if not self._secrets:
            return
        for name in FREE_TEXT_FIELDS:
            value = getattr(event, name, None)
            if isinstance(value, str) and any(s in value for s in self._secrets):
                for s in self._secrets:
                    value = value.replace(s, "***")
                setattr(event, name, value)
