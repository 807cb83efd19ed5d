"""Files only their owner may read: the app's data folder (0700), its databases and keys (0600).

Modes are set when jitlite creates a folder or file, whatever the process umask says. Existing ones
are never changed (a folder given by the user may be shared on purpose); ``loose_mode`` tells a
caller that one is readable by others, so it can warn.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "loose_mode", "private_dir", "private_file"]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder (and its missing parents) readable by its owner only; return it."""
    folder = Path(path)
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        try:
            item.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # another process made it meanwhile: theirs stands
            continue
        os.chmod(item, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return folder


def private_file(path: str | os.PathLike[str]) -> bool:
    """Create an empty file readable by its owner only, if it does not exist; return whether it was made."""
    target = Path(path)
    private_dir(target.parent)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def loose_mode(path: str | os.PathLike[str]) -> int | None:
    """Return the permission bits of an existing file or folder that others may access, else None."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None
