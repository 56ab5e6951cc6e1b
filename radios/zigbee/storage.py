"""zigpy's database file and the network backup file, as the adapter looks after them.

The database holds the network's devices and zigpy's own backups (with the network key): it is kept
0600 like every other secret of the hub. An unreadable database is moved aside rather than stopping
the radio forever; a lost one is rebuilt from the backup file.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import zigpy.application

from radios.zigbee.backup import BACKUP_FILE, BackupError, read_backup

log = logging.getLogger(__name__)

_SQLITE_PARTS = ("", "-wal", "-shm", "-journal")


def secure_database(database: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite gives its WAL files the same mode)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(database, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    for suffix in _SQLITE_PARTS:
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.chmod(0o600)


def quarantine_database(database: Path, exc: Exception) -> None:
    """Move an unreadable database aside so the radio can start with an empty one."""
    aside = database.with_name(f"{database.name}.corrupt-{int(time.time())}")
    for suffix in _SQLITE_PARTS:
        part = database.with_name(database.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    log.error(
        "zigbee database %s is unreadable (%s); moved to %s. Starting with an empty one: the "
        "network comes from the stick (or the backup file), devices reappear as they talk",
        database,
        exc,
        aside,
    )


def adopt_backup_file(app: zigpy.application.ControllerApplication, data_dir: Path) -> None:
    """With no backup in zigpy's database (it was lost), offer zigpy the backup file instead.

    zigpy restores its most recent backup onto a stick that has no network, so a lost database
    and a replaced stick together still bring the household's network back.
    """
    if app.backups.most_recent_backup() is not None:
        return
    path = data_dir / BACKUP_FILE
    if not path.exists():
        return
    try:
        backup = read_backup(path)
    except BackupError as exc:
        log.error("ignoring zigbee backup file: %s", exc)
        return
    app.backups.add_backup(backup)
    log.info("zigbee database has no network backup; using %s", path)
