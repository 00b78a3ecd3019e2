"""Atomic file writes: checkpoints, configs, models and reports survive a crash whole or not at all.

A write that fails for a reason the user can fix (a full disk, a read-only or foreign directory)
raises `FileWriteError`, whose message names the path and the reason in words ("no space left on
device"); `DiskFullError` is the full-disk case (the CLI exits 3 on it, 2 on the others). The
`LineAppender` appends whole lines or nothing, so a log never ends on half a line.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EISDIR: "is a directory",
    errno.ENOENT: "no such file or directory",
    errno.EADDRINUSE: "address already in use",
}
_FULL = (errno.ENOSPC, errno.EDQUOT)


class FileWriteError(OSError):
    """A file could not be written; `path` and `reason` say which and why (errno is kept)."""

    def __init__(self, path: str | os.PathLike[str], cause: OSError, *, action: str = "cannot write"):
        code = cause.errno if cause.errno is not None else errno.EIO
        super().__init__(code, cause.strerror or str(cause), str(path))
        self.path = Path(path)
        self.action = action
        self.reason = _REASONS.get(code, (cause.strerror or str(cause)).lower())

    def __str__(self) -> str:
        return f"{self.path}: {self.action}: {self.reason}"

    def __reduce__(self) -> tuple[type, tuple[str, OSError, str]]:  # picklable across worker threads/processes
        return (type(self), (str(self.path), OSError(self.errno, self.strerror), self.action))


class DiskFullError(FileWriteError):
    """No space left on the device (or quota exceeded): the run stops at its last good checkpoint."""


def write_error(path: str | os.PathLike[str], cause: OSError, *, action: str = "cannot write") -> FileWriteError:
    """The typed error for an OSError met while writing `path` (DiskFullError on ENOSPC / EDQUOT)."""
    if isinstance(cause, FileWriteError):
        return cause
    kind = DiskFullError if cause.errno in _FULL else FileWriteError
    return kind(path, cause, action=action)


def user_path(path: str | os.PathLike[str]) -> Path:
    """`path` with a leading ~ or ~user expanded; ValueError naming it where Path.expanduser raises RuntimeError
    (`~nouser/x`, or `~` with no $HOME and no home in the password file)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        head = str(path).split(os.sep, 1)[0]
        who = "there is no home directory for ~ ($HOME is not set)" if head == "~" else f"there is no user {head[1:]!r}"
        raise ValueError(f"{str(path)!r}: {who}") from None


def error_text(exc: BaseException) -> str:
    """An error as one line for a person: an OSError as "path: reason in words" (not "[Errno 13] Permission
    denied: '...'"), anything else as its own message."""
    if isinstance(exc, FileWriteError) or not isinstance(exc, OSError):
        return str(exc)
    code = exc.errno if exc.errno is not None else errno.EIO
    reason = _REASONS.get(code, (exc.strerror or str(exc)).lower())
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> Path:
    """Write `data` to `path` via temporary file + fsync + rename; the folder is created if missing.

    On failure nothing is left behind and the previous file at `path` is untouched. The file is private
    (0600, mkstemp's) unless `mode` is given.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def output_target(path: str | os.PathLike[str]) -> Path:
    """Where a file the user named (`--out FILE`) is written: through a symlink to its target (the link stays),
    into a folder that must exist (a typo in it is an error, not a new folder). FileWriteError naming `path`."""
    given = Path(path)
    try:
        kind = os.stat(given).st_mode  # through a link: /dev/stdout is one to a pipe or a terminal
    except FileNotFoundError:
        kind = None
    except OSError as exc:
        raise write_error(given, exc) from None
    if kind is not None and stat.S_ISDIR(kind):
        raise write_error(given, OSError(errno.EISDIR, "is a directory"))
    if kind is not None and not stat.S_ISREG(kind):
        return given  # a device or a pipe is written where it is (a pipe's link target is no path)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    folder = target.parent
    if not folder.is_dir():
        code = errno.ENOTDIR if folder.exists() else errno.ENOENT
        raise FileWriteError(given, OSError(code, os.strerror(code)),
                             action=f"cannot write into {folder}" if folder != Path() else "cannot write")
    return target


def write_output_file(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file the user named: a regular file atomically (keeping an existing file's mode, a new one's by the
    umask), and a device or a pipe (/dev/null, /dev/stdout, `>(gzip)`) by writing to it, not by replacing it with a
    file. Returns the path written (a symlink's target)."""
    target = output_target(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return atomic_write_bytes(target, data, mode=0o666 & ~_umask())
    except OSError as exc:
        raise write_error(path, exc) from None
    if stat.S_ISREG(st.st_mode):
        return atomic_write_bytes(target, data, mode=stat.S_IMODE(st.st_mode))
    try:
        with open(target, "wb") as handle:  # a device or a FIFO: written through, never replaced
            handle.write(data)
    except OSError as exc:
        raise write_error(path, exc) from None
    return target


def _umask() -> int:
    """The process's umask, read without changing it (another thread may be creating files) where Linux says it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


class LineAppender:
    """Append-only file of whole lines: a failed write is cut back to the last whole line, then raised.

    Unbuffered (one `os.write` loop per line), so nothing is left in a buffer to fail again at close.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise write_error(self.path, exc, action="cannot open for writing") from None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, line: bytes) -> None:
        """Write `line` (ending in a newline) whole, or leave the file as it was and raise FileWriteError."""
        if self._fd is None:
            raise ValueError(f"{self.path}: closed")
        view = memoryview(line)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            try:
                os.ftruncate(self._fd, self._size)  # frees blocks, so it works on a full disk too
            except OSError:
                pass
            raise write_error(self.path, exc) from None
        self._size += len(line)

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError(f"{self.path}: closed")
        return self._fd

    def sync(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise write_error(self.path, exc) from None

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


DAMAGED_SUFFIX = ".damaged"


def damaged_name(path: Path) -> Path:
    """Where a damaged file is kept for inspection: `<name>.damaged`, or `.damaged-2`, ... if that is taken."""
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{DAMAGED_SUFFIX}-{n}")
    return target
