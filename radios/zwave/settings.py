"""The `[zwave]` config section as this radio reads it (hub_agent.config fills it from TOML)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ZWaveSection:
    """`[zwave]`: the Serial API controller; `port` is a pyserial URL or "sim"."""

    port: str = ""
    #: the network keys file (CONTRACT 9.1); the config loader defaults it to <data_dir>/zwave-keys.json
    security_keys: Path | None = None
