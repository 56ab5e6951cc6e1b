"""The `[zwave]` config section as this radio reads it (hub_agent.config fills it from TOML)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ZWaveSection:
    """`[zwave]`: the Serial API controller; `port` is a pyserial URL or "sim"."""

    port: str = ""
