"""Writing files that hold secrets (keys, network keys, certificates next to them) so no crash or
local user can read, redirect, truncate or block them.

Rules of this file: the data goes to a fresh temporary file made by `mkstemp` in the target's own
folder (O_CREAT|O_EXCL, a random name, so a planted file or symlink is never opened and a stale temp
file from a crash never blocks), the mode is set with fchmod on the open descriptor before the first
byte, then write, fsync, rename over the target (atomic: readers see the old or the new file, never
half) and fsync the folder so the rename survives a power cut. A symlink at the target itself is
replaced, not followed. Stale temp files (ours, older than STALE_AFTER) are removed on the next write.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE = 0o600
PUBLIC = 0o644
#: Our temp files start with this; only files older than STALE_AFTER are cleaned up (a concurrent
#: writer's temp file is younger).
TEMP_PREFIX = ".tmp-"
STALE_AFTER = 600.0


def write_secret(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, mode 0600 from the first byte (see the module rules)."""
    write_atomic(path, data, PRIVATE)


def write_atomic(path: Path, data: bytes, mode: int = PUBLIC) -> None:
    """Replace `path` with `data` at `mode`, atomically and durably (see the module rules)."""
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder, path.name)
    temporary = _temp_copy(folder, path.name, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)


def _temp_copy(folder: Path, name: str, data: bytes, mode: int) -> str:
    """A new temp file in `folder` holding `data` at `mode` (set before the first byte), fsynced."""
    fd, temporary = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}.", dir=folder)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def create_secret(path: Path, data: bytes) -> bool:
    """Create `path` with `data` (0600) only if nothing is there yet; False if something was.

    The file appears complete or not at all: it is written under a temp name, then hard-linked to
    its name (link(2) never replaces, so two processes creating a key at once keep the first one).
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder, path.name)
    temporary = _temp_copy(folder, path.name, data, PRIVATE)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    fsync_folder(folder)
    return True


def fsync_folder(folder: Path) -> None:
    """fsync a folder so a rename or a new file in it is durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tighten(path: Path, mode: int = PRIVATE) -> bool:
    """Take permissions away from a file that has more than `mode` (never adds any); True if changed.

    Symlinks are not followed: a link planted where a secret should be is left alone, not chmod'ed.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False
    current = stat.S_IMODE(info.st_mode)
    if current & ~mode == 0:
        return False
    os.chmod(path, current & mode, follow_symlinks=False)
    log.warning("%s was mode %04o; set it to %04o", path, current, current & mode)
    return True


def read_secret(path: Path, limit: int = 1 << 20) -> bytes:
    """Read a secret file without following a symlink at its name; ValueError if over `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return data


def _remove_stale(folder: Path, name: str) -> None:
    """Remove our own temp files for `name` that a crash left behind (older than STALE_AFTER)."""
    cutoff = time.time() - STALE_AFTER
    prefix = f"{TEMP_PREFIX}{name}."
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                log.info("removed a temp file a crash left behind: %s", entry.path)
