"""`python -m radios.zigbee backup|restore --config FILE`: network backups on demand, and restoring one
onto a replacement stick. Run them while the agent is stopped: they open the stick themselves.

Exit codes follow the CLI contract: 0 ok, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from zigpy.backups import NetworkBackup

from hub_agent.config import load_config
from hub_core.errors import ConfigError, HubError
from radios.zigbee.backup import BACKUP_FILE, read_backup, write_backup
from radios.zigbee.stack import application_class, zigpy_config

log = logging.getLogger(__name__)


async def _open(radio: str, config: dict[str, Any]) -> Any:
    app = application_class(radio)(config)
    await app._load_db()  # so zigpy's database records the backup it takes or restores
    try:
        await app.connect()
    except BaseException:
        with contextlib.suppress(Exception):
            await app.shutdown(db=True)
        raise
    return app


async def take_backup(config_path: Path, out: Path | None = None) -> tuple[NetworkBackup, Path]:
    """Read the network settings from the stick, record them in zigpy's database and a file."""
    config = load_config(config_path)
    if config.zigbee is None:
        raise HubError(f"{config_path} has no [zigbee] section")
    data_dir = config.hub.data_dir
    app = await _open(config.zigbee.radio, zigpy_config(config.zigbee, data_dir))
    try:
        backup: NetworkBackup = await app.backups.create_backup(load_devices=True)
    finally:
        await app.shutdown(db=True)
    return backup, write_backup(backup, out or data_dir / BACKUP_FILE)


async def restore_backup(config_path: Path, source: Path | None = None) -> NetworkBackup:
    """Write a backup's network (channel, PAN ids, keys, coordinator address) onto the stick."""
    config = load_config(config_path)
    if config.zigbee is None:
        raise HubError(f"{config_path} has no [zigbee] section")
    data_dir = config.hub.data_dir
    backup = read_backup(source or data_dir / BACKUP_FILE)
    app = await _open(config.zigbee.radio, zigpy_config(config.zigbee, data_dir))
    try:
        # zigpy raises the frame counter by a margin so devices accept the restored coordinator.
        await app.backups.restore_backup(backup)
    finally:
        await app.shutdown(db=True)
    return backup


def build_parser() -> argparse.ArgumentParser:
    """The `python -m radios.zigbee` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m radios.zigbee", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    backup = sub.add_parser("backup", help="write the stick's network settings to a backup file")
    backup.add_argument("--config", required=True, type=Path, metavar="FILE")
    backup.add_argument("--out", type=Path, metavar="FILE", help=f"default: <data_dir>/{BACKUP_FILE}")
    restore = sub.add_parser("restore", help="write a backup's network onto a (new) stick")
    restore.add_argument("--config", required=True, type=Path, metavar="FILE")
    restore.add_argument("--backup", type=Path, metavar="FILE", help=f"default: <data_dir>/{BACKUP_FILE}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; errors are one line on stderr."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "backup":
            backup, path = asyncio.run(take_backup(args.config, args.out))
            info = backup.network_info
            print(f"backed up network on channel {info.channel} (PAN 0x{info.pan_id:04x}) to {path}")
        else:
            backup = asyncio.run(restore_backup(args.config, args.backup))
            info = backup.network_info
            print(
                f"restored network on channel {info.channel} (PAN 0x{info.pan_id:04x}); start the agent now"
            )
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (HubError, OSError, ValueError) as exc:
        print(f"zigbee {args.command} failed: {exc}", file=sys.stderr)
        return 1
    return 0
