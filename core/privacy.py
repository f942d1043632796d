"""The data folder is private to the service: recordings, the database, logs and Asterisk's
output hold personal data that only the audited routes may show.

Every service process starts with :data:`UMASK` (so whatever it or a library creates is the
owner's only); :func:`make_private` corrects a folder made before that rule, or by a process
that did not follow it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

UMASK = 0o077
"""Nothing a service writes is readable or writable by group or others."""

_SHARED = 0o077


def make_private(root: Path) -> int:
    """Take group and other permissions off ``root`` and everything below it (symbolic links
    are neither followed nor changed). Returns how many entries were corrected."""
    fixed = 0
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        for path in [here] * (here == root) + [here / name for name in subfolders + files]:
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:  # removed while we walk (a finished spool file…)
                continue
            if stat.S_ISLNK(mode) or not mode & _SHARED:
                continue
            try:
                path.chmod(stat.S_IMODE(mode) & ~_SHARED)
            except FileNotFoundError:
                continue
            fixed += 1
    if fixed:
        log.info("%s: took group and other access off %d files and folders", root, fixed)
    return fixed


def private_file(path: Path) -> None:
    """Create ``path`` (owner only) if missing, else take group and other access off it.
    Nothing is done when its folder does not exist."""
    if not path.parent.is_dir():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if mode & _SHARED:
            os.fchmod(fd, stat.S_IMODE(mode) & ~_SHARED)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by the owner only (whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


def private_folders(root: Path, relative: Path) -> Path:
    """``root / relative``, each folder below ``root`` created owner-only; returns it."""
    folder = root
    for part in relative.parts:
        folder = folder / part
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    return folder
