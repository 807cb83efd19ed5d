"""Read an app's small files (app.json, e.json, business configs, jitlite.toml) safely.

A file is read only if it is a regular file of at most ``MAX_FILE_BYTES``: a FIFO, a device, a
socket or a symlink loop is refused without blocking, and an oversized file without reading it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import Any

__all__ = ["MAX_FILE_BYTES", "FileRefused", "inside", "load_json", "parse_json", "read_small_file"]

MAX_FILE_BYTES = 1024 * 1024
# O_NONBLOCK: should a path be swapped for a FIFO after its stat, opening it still returns at once.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """A file jitlite will not read; the message says why and ``fix`` what to do."""

    def __init__(self, message: str, fix: str, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.where = where


def _kind(mode: int) -> str:
    return next((word for test, word in _KINDS if test(mode)), "not a regular file")


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB" if count >= 1024 * 1024 else f"{count} bytes"


def read_small_file(
    path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES, *, listed_regular: bool = False
) -> bytes:
    """Return the bytes of a regular file of at most limit bytes; raise FileRefused, or FileNotFoundError.

    ``listed_regular`` says a directory listing just showed path as a regular file (not a link),
    which saves the stat made before opening.
    """
    if not listed_regular:
        try:
            # stat before open: opening a FIFO or a device can block or have effects of its own.
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            if os.path.islink(path):
                raise FileRefused(f"is a broken symlink (to {os.readlink(path)})",
                                  "point the link at an existing file, or replace it with the file") from None
            raise
        except OSError as exc:
            raise _refused(exc) from None
        if not stat.S_ISREG(mode):
            raise FileRefused(f"is {_kind(mode)}, not a regular file", "replace it with a regular file")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _refused(exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"is {_kind(info.st_mode)}, not a regular file", "replace it with a regular file")
        if info.st_size > limit:
            raise _too_big(info.st_size, limit)
        chunks = []
        remaining = limit + 1  # one byte more than allowed tells a file that grew while being read
        want = min(info.st_size + 1, remaining)  # the whole file in one read, then the read that ends it
        while remaining > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
            want = min(remaining, 65536)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise _too_big(len(data), limit)
    return data


def _too_big(size: int, limit: int) -> FileRefused:
    return FileRefused(f"is {_size(size)}, more than the {_size(limit)} jitlite reads from one file",
                       "keep element and app files small; move data into the database or a model")


def _refused(exc: OSError) -> FileRefused:
    if exc.errno == errno.ELOOP:
        return FileRefused("is a symlink loop: following it never reaches a file",
                           "remove the link, or point it at a real file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FileRefused("cannot be read: permission denied", "let the user running jitlite read it")
    return FileRefused(f"cannot be read: {exc.strerror}", "check the file")


def parse_json(data: bytes) -> Any:
    """Return the parsed JSON of a file's bytes; raise FileRefused or json.JSONDecodeError."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise FileRefused(f"is not UTF-8 text (byte {exc.start + 1} is invalid)", "save the file as UTF-8",
                          where=f"byte {exc.start + 1}") from None
    except RecursionError:
        raise FileRefused("nests arrays or objects too deeply", "flatten the JSON") from None


def load_json(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> Any:
    """Return the parsed JSON of a small regular file; raise FileRefused or json.JSONDecodeError."""
    return parse_json(read_small_file(path, limit))


def inside(path: str, folder: str) -> bool:
    """Tell whether a real path is folder itself or lies under it (both already resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
