"""The `[zigbee]` config section as this radio reads it (hub_agent.config fills it from TOML)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ZigbeeSection:
    """`[zigbee]`: which zigpy radio library, on which port, on which channel."""

    radio: str = ""
    port: str = ""
    channel: int = 15
