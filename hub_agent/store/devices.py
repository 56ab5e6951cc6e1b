"""Devices and their last known state in the store, so local control works before radios are up."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

from hub_core.model import Device, DeviceId, Value


def save_device(device: Device) -> Callable[[sqlite3.Connection], None]:
    """A store write that records `device`'s description (its state is kept separately)."""
    description = device.to_json()
    description.pop("state")
    text = json.dumps(description, separators=(",", ":"))

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO devices (id, protocol, json, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET protocol = excluded.protocol, json = excluded.json, "
            "updated = excluded.updated",
            (device.id, device.protocol.value, text, time.time()),
        )

    return write


def remove_device(device: DeviceId) -> Callable[[sqlite3.Connection], None]:
    """A store write that forgets `device` and its state."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM devices WHERE id = ?", (device,))
        conn.execute("DELETE FROM device_state WHERE device = ?", (device,))

    return write


def save_state(
    device: DeviceId, attribute: str, value: Value, ts: float
) -> Callable[[sqlite3.Connection], None]:
    """A store write that records one attribute's last known value."""
    text = json.dumps(value)

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO device_state (device, attribute, value, ts) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (device, attribute) DO UPDATE SET value = excluded.value, ts = excluded.ts",
            (device, attribute, text, ts),
        )

    return write


def load_devices(conn: sqlite3.Connection) -> list[Device]:
    """Every stored device with its last known state; rows that no longer parse are skipped."""
    states: dict[str, dict[str, Value]] = {}
    for device, attribute, value in conn.execute("SELECT device, attribute, value FROM device_state"):
        states.setdefault(device, {})[attribute] = json.loads(value)
    devices = []
    for (text,) in conn.execute("SELECT json FROM devices ORDER BY id"):
        data = json.loads(text)
        data["state"] = states.get(data["id"], {})
        devices.append(Device.from_json(data))
    return devices
