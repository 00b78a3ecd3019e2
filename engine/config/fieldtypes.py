"""The config's own value types: URLs, index names, secrets, user paths; and where secrets come from.

The rules live in the annotations (not in the model) so that a single field typed in the UI or given with
`--set` is checked by the same rule as a whole config.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, SecretStr

from ..fileio import user_path
from ..quoting import quoted

DEFAULT_IONQ_API_URL = "https://api.ionq.co/v0.4"
SECRET_FIELDS: dict[str, str] = {"pinecone_api_key": "PINECONE_API_KEY", "quantum_api_key": "IONQ_API_KEY"}
MASK = "**********"  # what a secret looks like on screen, in messages and in format_field


def _port_text(netloc: str) -> str:
    """The port as written after the host (`''` when none); an IPv6 host's own colons sit inside its brackets."""
    host_port = netloc.rpartition("]")[2] if netloc.startswith("[") else netloc
    return host_port.partition(":")[2]


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if "@" in parts.netloc:  # the URL is not echoed: what precedes the @ is a name or a key
        raise ValueError("must not hold a user name or password (user:key@host): a key comes from IONQ_API_KEY or "
                         "PINECONE_API_KEY, and a URL is written to the run's config.toml")
    for mark, what in (("?", "query string"), ("#", "fragment")):  # not echoed either: `?key=...` is a key
        if mark in value:
            raise ValueError(f"must not hold a {what} ('{mark}...'): a key comes from IONQ_API_KEY or "
                             "PINECONE_API_KEY, and a URL is written to the run's config.toml")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    port = _port_text(parts.netloc)  # checked here: past 65535 the socket layer raises OverflowError mid-run
    if port and not (port.isascii() and port.isdigit()):
        raise ValueError("must have a port number 1-65535 after the host's ':'")
    if port and not 1 <= int(port) <= 65535:
        raise ValueError(f"must have a port 1-65535, got {int(port)}")
    return value.rstrip("/")


def _check_index_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,43}[a-z0-9])?", value):
        raise ValueError(
            f"must be 1-45 lowercase letters, digits or '-', not starting or ending with '-', got {value!r}"
        )
    return value


def _check_secret(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if not text or text != text.strip():
        raise ValueError("must be non-empty without surrounding whitespace")
    if text == MASK:
        raise ValueError("is the masked placeholder, not a key; type the real key")
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in text):  # the key itself is never said
        raise ValueError("holds a space, a line break, a control or a non-ASCII character (a paste?): a key is one "
                         "word of plain characters")
    return value


def _nonempty_path(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty (leave it unset instead)")
    return value


def env_secret(var: str) -> SecretStr | None:
    """The secret in environment variable `var`, or None when it is unset or blank."""
    value = os.environ.get(var, "").strip()
    return SecretStr(value) if value else None


Url = Annotated[str, AfterValidator(_check_url)]


def _check_ionq_api_version(value: str) -> str:
    """Refuse a base URL without its API version: every request would 404 (`https://api.ionq.co` alone).

    A path that ends in another version (`/v0.3`) is offered `/v0.4` in its place, not appended after it."""
    parts = urlsplit(value)
    path = parts.path.rstrip("/")
    if path.endswith("/v0.4"):
        return value
    other = re.search(r"/v\d+(?:\.\d+)*$", path, re.IGNORECASE)
    fixed = (path[: other.start()] if other else path) + "/v0.4"
    raise ValueError(f"must end with the API version /v0.4 (e.g. {parts._replace(path=fixed).geturl()}), got {value!r}")


IonQUrl = Annotated[str, AfterValidator(_check_url), AfterValidator(_check_ionq_api_version)]
IndexName = Annotated[str, AfterValidator(_check_index_name)]
Secret = Annotated[SecretStr, AfterValidator(_check_secret)]
def _run_path(path: Path) -> Path:
    """A path a run keeps in its config.toml: no control characters (a NUL failed the run ten steps in, naming
    nothing), and absolute (made so against the working directory), because a resume from another folder read a
    relative `checkpoint_directory` or `dataset_path` against its own folder: it found no checkpoint and started
    over, or another file."""
    text = str(path)
    if not text.isprintable():
        raise ValueError(f"must not hold a control character (a NUL, a line break), got {quoted(text)}")
    return Path(os.path.abspath(path))


def characterization_source(value: str) -> str:
    """An IonQ target (`qpu.forte-1`) as given; a file path expanded and made absolute, as other run paths are."""
    if value.startswith("qpu."):
        return value
    return str(_run_path(user_path(value)))


def characterization_backend(path: str) -> str:
    """The `backend` a characterization file's body names ("" when it cannot be read: loading it says why).
    Kept per file version: the native gate family is asked for often, and reads it."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return _body_backend(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _body_backend(path: str, mtime_ns: int, size: int) -> str:
    if size > 16 * 2**20:
        return ""
    try:
        with open(path, "rb") as handle:
            body = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        return ""
    if isinstance(body, dict) and isinstance(body.get("characterizations"), list) and body["characterizations"]:
        body = body["characterizations"][0]  # a page of GET /backends/{b}/characterizations
    backend = body.get("backend") if isinstance(body, dict) else None
    return backend if isinstance(backend, str) else ""


UserPath = Annotated[Path, BeforeValidator(_nonempty_path), AfterValidator(user_path), AfterValidator(_run_path)]
CharacterizationSource = Annotated[str, AfterValidator(characterization_source)]
