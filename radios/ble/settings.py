"""The `[ble]` config section as this radio reads it (hub_agent.config fills it from TOML)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BleSection:
    """`[ble]`: the Bluetooth adapter (`hci0`) or "sim"."""

    adapter: str = "hci0"
