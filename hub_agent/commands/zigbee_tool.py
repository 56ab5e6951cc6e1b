"""`hub-agent zigbee backup|restore --config FILE`: Zigbee network backups on demand, and restoring
one onto a replacement stick. Run them while the agent is stopped: they open the stick themselves.

A backup holds the network key: files are written 0600. Exit codes follow the CLI contract: 0 ok,
1 runtime failure (one line naming it), 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import zigpy.application
from zigpy.backups import NetworkBackup

from hub_agent.config import load_config
from hub_core.errors import HubError
from radios.zigbee.backup import BACKUP_FILE, read_backup, write_backup
from radios.zigbee.settings import ZigbeeSection
from radios.zigbee.stack import application_class, zigpy_config
from radios.zigbee.storage import secure_database

HELP = "back up the Zigbee network, or restore a backup onto a new stick (agent stopped)"
#: opening the stick and reading or writing its network must not hang the command forever
STICK_TIMEOUT = 120.0


class ZigbeeToolError(HubError):
    """The stick could not be opened, read or written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`backup [--out FILE]` and `restore [--backup FILE]`, each with `--config FILE`."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    backup = actions.add_parser("backup", help="write the stick's network settings to a backup file")
    backup.add_argument("--out", type=Path, metavar="FILE", help=f"default: <data_dir>/{BACKUP_FILE}")
    restore = actions.add_parser("restore", help="write a backup's network onto a (new) stick")
    restore.add_argument("--backup", type=Path, metavar="FILE", help=f"default: <data_dir>/{BACKUP_FILE}")
    for sub in (backup, restore):
        sub.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")


def main(args: argparse.Namespace) -> int:
    """Run one action; failures raise HubError (one line on stderr, exit 1)."""
    config = load_config(args.config)
    if config.zigbee is None:
        raise ZigbeeToolError(f"{args.config} has no [zigbee] section")
    data_dir = config.hub.data_dir
    if args.action == "backup":
        backup, path = asyncio.run(take_backup(config.zigbee, data_dir, args.out))
        info = backup.network_info
        print(f"backed up network on channel {info.channel} (PAN 0x{info.pan_id:04x}) to {path}")
    else:
        backup = asyncio.run(restore_backup(config.zigbee, data_dir, args.backup))
        info = backup.network_info
        print(f"restored network on channel {info.channel} (PAN 0x{info.pan_id:04x}); start the agent now")
    return 0


async def _open(section: ZigbeeSection, data_dir: Path) -> zigpy.application.ControllerApplication:
    """zigpy with our database (so it records the backup) and a connected stick."""
    config = zigpy_config(section, data_dir)
    secure_database(Path(config["database_path"]))
    app = await application_class(section.radio).new(config, start_radio=False)
    try:
        async with asyncio.timeout(STICK_TIMEOUT):
            await app.connect()
    except (Exception, asyncio.CancelledError) as exc:
        await app.shutdown(db=True)
        raise ZigbeeToolError(
            f"cannot open the zigbee stick {section.port}: {exc or type(exc).__name__}"
        ) from None
    return app


async def take_backup(
    section: ZigbeeSection, data_dir: Path, out: Path | None = None
) -> tuple[NetworkBackup, Path]:
    """Read the network settings from the stick, record them in zigpy's database and a file."""
    app = await _open(section, data_dir)
    try:
        async with asyncio.timeout(STICK_TIMEOUT):
            backup: NetworkBackup = await app.backups.create_backup(load_devices=True)
    except Exception as exc:
        raise ZigbeeToolError(f"cannot read the network from {section.port}: {exc}") from None
    finally:
        await app.shutdown(db=True)
    return backup, write_backup(backup, out or data_dir / BACKUP_FILE)


async def restore_backup(section: ZigbeeSection, data_dir: Path, source: Path | None = None) -> NetworkBackup:
    """Write a backup's network (channel, PAN ids, keys, coordinator address) onto the stick."""
    backup = read_backup(source or data_dir / BACKUP_FILE)
    app = await _open(section, data_dir)
    try:
        # zigpy raises the frame counter by a margin so devices accept the restored coordinator.
        async with asyncio.timeout(STICK_TIMEOUT):
            await app.backups.restore_backup(backup)
    except Exception as exc:
        raise ZigbeeToolError(f"cannot write the network to {section.port}: {exc}") from None
    finally:
        await app.shutdown(db=True)
    return backup
