"""Which zigpy radio library serves `[zigbee] radio = ...`, and the zigpy configuration we give it.

Radio libraries are optional extras imported only when selected, so a hub without a given stick
never pays for (or needs) its library.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import zigpy.application

from hub_core.errors import HubError
from radios.zigbee.settings import ZigbeeSection

#: radio -> (module with ControllerApplication, pip extra, distribution name)
RADIO_LIBRARIES: dict[str, tuple[str, str, str]] = {
    # zigpy-znp, with our hook for a coordinator that resets by itself (radios.zigbee.znp)
    "znp": ("radios.zigbee.znp", "zigbee-znp", "zigpy-znp"),
    "ezsp": ("bellows.zigbee.application", "zigbee-ezsp", "bellows"),
    "deconz": ("zigpy_deconz.zigbee.application", "zigbee-deconz", "zigpy-deconz"),
}
SIM_SCHEME = "sim://"
DATABASE = "zigbee.db"


class StackNotInstalled(HubError):
    """The zigpy radio library for the configured stick is not installed."""


def application_class(radio: str) -> type[zigpy.application.ControllerApplication]:
    """The ControllerApplication class for `radio`; StackNotInstalled/ValueError with the fix."""
    if radio == "sim":
        from radios.sim.zigbee_app import SimControllerApplication

        return SimControllerApplication
    entry = RADIO_LIBRARIES.get(radio)
    if entry is None:
        known = ", ".join([*RADIO_LIBRARIES, "sim"])
        raise ValueError(f"[zigbee] radio must be one of {known}, not {radio!r}")
    module_name, extra, dist = entry
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StackNotInstalled(
            f'[zigbee] radio = "{radio}" needs {dist}, which is not installed: '
            f'pip install "hub-agent[{extra}]" ({exc})'
        ) from None
    cls: type[zigpy.application.ControllerApplication] = module.ControllerApplication
    return cls


def zigpy_config(
    section: ZigbeeSection, data_dir: Path, *, backup_period_minutes: int = 24 * 60
) -> dict[str, Any]:
    """zigpy's configuration: our database in data_dir, the configured channel, no OTA or scans."""
    path = section.port
    if section.radio == "sim" and not path.startswith(SIM_SCHEME):
        # One simulated stick per data_dir, like one real stick per hub: an agent restarted in the
        # same process finds its stick (and its devices) again; another agent gets its own.
        path = f"{SIM_SCHEME}{data_dir.resolve()}"
    if not path:
        raise ValueError("[zigbee] port is required (the stick's serial device, e.g. /dev/ttyUSB0)")
    config: dict[str, Any] = {
        "device": {"path": path},
        "database_path": str(data_dir / DATABASE),
        "network": {"channel": section.channel, "channels": [section.channel]},
        # Firmware updates and topology/energy scans are not ours to start; they also keep timers
        # and traffic going that a small hub does not need.
        "ota": {"enabled": False},
        "topology_scan_enabled": False,
        "backup_enabled": True,
        "backup_period": backup_period_minutes,
        # Refuse a stick that carries another network rather than silently splitting the household.
        "validate_network_settings": True,
        "watchdog_enabled": section.radio != "sim",
    }
    if section.radio == "znp" and path.startswith("socket://"):
        # A coordinator on a TCP port has no DTR/RTS pins to toggle into (or out of) its bootloader.
        config["znp_config"] = {"skip_bootloader": False}
    return config
