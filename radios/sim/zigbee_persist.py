"""What a simulated device keeps across a restart, as a real one keeps it in its own flash.

A real device remembers its network address, the bindings and reporting its coordinator configured
and the groups it was put in; it does not rejoin or need a new interview when the hub restarts.
"""

from __future__ import annotations

from typing import Any

from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.zigbee_zcl import t


def device_state(device: SimZigbeeDevice) -> dict[str, Any]:
    """The device's address, bindings, reporting configuration and groups (JSON-ready)."""
    return {
        "nwk": int(device.nwk),
        "joined": device.joined,
        "left": device.left,
        "bindings": sorted([list(pair) for pair in device.bindings]),
        "endpoints": {
            str(ep.id): {
                "groups": sorted(ep.groups),
                "reporting": {
                    str(cid): {str(a): list(v) for a, v in cluster.reporting.items()}
                    for cid, cluster in ep.server.items()
                    if cluster.reporting
                },
            }
            for ep in device.endpoints.values()
        },
    }


def restore_device(device: SimZigbeeDevice, saved: dict[str, Any]) -> None:
    """Put what `device_state` saved back; ValueError/TypeError/KeyError if it is malformed."""
    device.nwk = t.NWK(int(saved.get("nwk", device.nwk)))
    device.joined = bool(saved.get("joined", False))
    device.left = bool(saved.get("left", False))
    device.bindings = {(int(ep), int(cid)) for ep, cid in saved.get("bindings", [])}
    for ep_text, ep_saved in dict(saved.get("endpoints", {})).items():
        ep = device.endpoints.get(int(ep_text))
        if ep is None:
            continue
        ep.groups = {int(g) for g in ep_saved.get("groups", [])}
        for cid_text, reporting in dict(ep_saved.get("reporting", {})).items():
            cluster = ep.server.get(int(cid_text))
            if cluster is not None:
                cluster.reporting = {int(a): (int(v[0]), int(v[1])) for a, v in reporting.items()}
