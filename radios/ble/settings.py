"""The `[ble]` config section as this radio reads it (hub_agent.config fills it from TOML)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ADAPTER = re.compile(r"hci[0-9]{1,3}")


@dataclass(frozen=True, slots=True)
class BleSection:
    """`[ble]`: the Bluetooth adapter (`hci0`) or "sim"."""

    adapter: str = "hci0"


def check_adapter(name: str) -> str:
    """`name` if it is a BlueZ adapter name (hci0, hci1, ...), else ValueError saying so."""
    if not _ADAPTER.fullmatch(name):
        raise ValueError(f'Bluetooth adapter {name!r} is not a BlueZ adapter name (hci0, hci1, ...) or "sim"')
    return name
