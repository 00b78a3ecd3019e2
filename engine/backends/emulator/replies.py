"""IonQ-shaped HTTP replies: the error body, not-found, a dropped connection."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from aiohttp import web

PREFIX = "/v0.4"
REASONS = {400: "Bad Request", 401: "Unauthorized Error", 404: "Not Found Error", 405: "Method Not Allowed",
           409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 520: "Unknown Error"}


def _not_json_constant(name: str) -> Any:
    """Python's json reads NaN and Infinity; JSON (and IonQ) has no such numbers."""
    raise ValueError(f"{name} is not a JSON value")


def request_json(raw: bytes) -> Any:
    """A request body as JSON; ValueError saying why not. A nesting deep enough to exhaust the parser's recursion is
    one (it was a RecursionError, a 500 and a traceback in the emulator's log)."""
    try:
        return json.loads(raw, parse_constant=_not_json_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def error(status: int, message: str, keys: tuple[str, ...] = (), source: str = "body",
          headers: dict[str, str] | None = None) -> web.Response:
    """IonQ's error body; a 400 names the offending fields in `validation.keys`."""
    body: dict[str, Any] = {"error": REASONS.get(status, "Error"), "message": message, "statusCode": status}
    if keys:
        body["validation"] = {"keys": list(keys), "source": source}
    return web.json_response(body, status=status, headers=headers)


def not_found() -> web.Response:
    return error(404, "Resource not found. See https://docs.ionq.com/ for details, or email support@ionq.co "
                      "for help.")


def reset_connection(request: web.Request) -> None:
    """Drop the client's connection with a TCP RST (no response at all)."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def intish(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v
