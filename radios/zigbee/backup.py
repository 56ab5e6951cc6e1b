"""Network backups as files: the Open Coordinator Backup JSON format, written atomically, mode 0600.

A backup holds the network key, so it is as secret as a private key. zigpy also keeps its backups in
its database; these files exist so a backup survives the loss of that database (or the whole hub).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zigpy.backups import NetworkBackup

from hub_core import secretfile
from hub_core.errors import HubError

BACKUP_FILE = "zigbee-backup.json"


class BackupError(HubError):
    """A backup file is missing, unreadable or not a Zigbee network backup."""


def write_backup(backup: NetworkBackup, path: Path) -> Path:
    """Write `backup` to `path` atomically with mode 0600; return the path."""
    data = json.dumps(backup.as_open_coordinator_json(), indent=2, sort_keys=True) + "\n"
    # The backup holds the network key: written like every secret (hub_core.secretfile).
    secretfile.write_secret(path, data.encode("utf-8"))
    return path


def read_backup(path: Path) -> NetworkBackup:
    """Read a backup file (Open Coordinator Backup JSON or zigpy's own); BackupError saying why not."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BackupError(f"cannot read Zigbee backup {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BackupError(f"{path} is not a Zigbee network backup (expected a JSON object)")
    try:
        backup = NetworkBackup.from_dict(raw)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path} is not a valid Zigbee network backup: {exc!r}") from None
    if not backup.is_complete():
        raise BackupError(f"{path} is incomplete (no network key, PAN id, channel or coordinator address)")
    return backup
