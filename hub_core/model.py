"""The canonical device model (CONTRACT section 4): devices, attribute values, commands, events.

Rules of this file: every type is a frozen dataclass or an enum; nothing here does I/O or reads
a clock except `now()`; JSON conversion (`to_json`) produces exactly the CONTRACT shapes.
Radios convert their own types to these at the edge; everything above the radios sees only these.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NewType, TypeAlias

from hub_core.errors import InvalidCommand

DeviceId = NewType("DeviceId", str)
Value: TypeAlias = str | int | float
JSONObject: TypeAlias = dict[str, Any]


class Protocol(StrEnum):
    """The radio protocol a device is reached through; also the device id prefix."""

    ZWAVE = "zwave"
    ZIGBEE = "zigbee"
    BLE = "ble"


def zwave_device_id(node_id: int) -> DeviceId:
    """`zwave-<node id>`."""
    return DeviceId(f"zwave-{node_id}")


def zigbee_device_id(ieee: int | str) -> DeviceId:
    """`zigbee-<ieee as 16 lowercase hex digits>`; accepts an int or any `aa:bb:..` spelling."""
    if isinstance(ieee, int):
        return DeviceId(f"zigbee-{ieee:016x}")
    return DeviceId("zigbee-" + ieee.replace(":", "").replace("-", "").lower().rjust(16, "0"))


def ble_device_id(mac: str) -> DeviceId:
    """`ble-<mac as 12 lowercase hex digits>`."""
    return DeviceId("ble-" + mac.replace(":", "").replace("-", "").lower())


def protocol_of(device: str) -> Protocol | None:
    """The protocol named by a device id's prefix, or None if the id is not well formed."""
    prefix, sep, rest = device.partition("-")
    if not sep or not rest:
        return None
    try:
        return Protocol(prefix)
    except ValueError:
        return None


# --- attributes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """What values an attribute takes: one of `choices`, or a number in [minimum, maximum]."""

    name: str
    unit: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    def check(self, value: object) -> Value:
        """Return `value` normalised for this attribute, or raise ValueError saying why not."""
        if self.choices:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        return check_number(self.name, value, self.minimum, self.maximum, integer=self.integer)


#: No number from outside is larger than this in magnitude: it fits an int64 and a float exactly,
#: so nothing downstream (float(), SQLite, struct packing, `:g` formatting) can overflow.
MAX_MAGNITUDE = 1e15


def check_number(
    name: str, value: object, low: float | None = None, high: float | None = None, *, integer: bool = False
) -> int | float:
    """`value` if it is a finite number in [low, high] (and whole if `integer`), else ValueError naming
    `name`. Compares before converting anything, so a 400-digit integer is an error, not an overflow."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {show_value(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {_fmt(low)}, not {_fmt(value)}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be at most {_fmt(high)}, not {_fmt(value)}")
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        raise ValueError(f"{name} must be between -1e15 and 1e15, not {_fmt(value)}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        return int(value)
    return value


def show_value(value: object, limit: int = 40) -> str:
    """`repr(value)` cut to `limit` characters, for error messages about untrusted input."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**limit:
        return f"a {'negative ' if value < 0 else ''}number with more than {limit} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(number: float) -> str:
    """A number for a message; huge integers (only out-of-range ones get here) are described."""
    if isinstance(number, int):
        return show_value(number, 20)
    return str(int(number)) if number.is_integer() else str(number)


ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.name: spec
    for spec in (
        AttributeSpec("switch", choices=("on", "off")),
        AttributeSpec("level", "%", minimum=0, maximum=100, integer=True),
        AttributeSpec("color_temp", "K", minimum=1000, maximum=10000, integer=True),
        AttributeSpec("temperature", "degC", minimum=-273.15),
        AttributeSpec("humidity", "%", minimum=0, maximum=100),
        AttributeSpec("illuminance", "lx", minimum=0),
        AttributeSpec("contact", choices=("open", "closed")),
        AttributeSpec("motion", choices=("active", "inactive")),
        AttributeSpec("water", choices=("wet", "dry")),
        AttributeSpec("lock", choices=("locked", "unlocked", "jammed")),
        AttributeSpec("battery", "%", minimum=0, maximum=100, integer=True),
        AttributeSpec("power", "W"),
        AttributeSpec("energy", "kWh", minimum=0),
        AttributeSpec("heating_setpoint", "degC", minimum=-50, maximum=100),
        AttributeSpec("thermostat_mode", choices=("off", "heat", "cool", "auto")),
    )
}

#: Capabilities are the attribute names plus `button` (a device that sends button events).
CAPABILITIES: frozenset[str] = frozenset(ATTRIBUTES) | {"button"}
BUTTON_ACTIONS: tuple[str, ...] = ("pressed", "held", "released", "double")


def check_attribute(attribute: str, value: object) -> Value:
    """Return `value` normalised for `attribute`, or raise ValueError naming the problem."""
    spec = ATTRIBUTES.get(attribute)
    if spec is None:
        raise ValueError(f"unknown attribute {attribute!r}")
    return spec.check(value)


# --- devices ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Device:
    """A device as the rest of the hub sees it: identity, capabilities and last known state."""

    id: DeviceId
    protocol: Protocol
    name: str
    manufacturer: str = ""
    model: str = ""
    online: bool = True
    capabilities: tuple[str, ...] = ()
    state: Mapping[str, Value] = field(default_factory=dict)
    #: an encrypted BLE device whose key is not set yet (CONTRACT 9.2); shown only when true
    needs_key: bool = False
    #: Z-Wave only (CONTRACT 9.2): the highest security class granted, or "none"; None elsewhere
    security: str | None = None

    def to_json(self) -> JSONObject:
        """The CONTRACT device JSON."""
        out: JSONObject = {
            "id": self.id,
            "protocol": self.protocol.value,
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "online": self.online,
            "capabilities": list(self.capabilities),
            "state": dict(self.state),
        }
        if self.needs_key:
            out["needs_key"] = True
        if self.security is not None:
            out["security"] = self.security
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Device:
        """Inverse of `to_json`; raises KeyError/ValueError on a malformed object."""
        return cls(
            id=DeviceId(str(data["id"])),
            protocol=Protocol(data["protocol"]),
            name=str(data["name"]),
            manufacturer=str(data.get("manufacturer", "")),
            model=str(data.get("model", "")),
            online=bool(data.get("online", True)),
            capabilities=tuple(str(c) for c in data.get("capabilities", ())),
            state=dict(data.get("state", {})),
            needs_key=bool(data.get("needs_key", False)),
            security=str(data["security"]) if data.get("security") is not None else None,
        )


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command name, the capability a device needs for it, and its arguments' specs."""

    name: str
    capability: str | None
    required: Mapping[str, AttributeSpec] = field(default_factory=dict)
    optional: Mapping[str, AttributeSpec] = field(default_factory=dict)


_DURATION = AttributeSpec("duration", "s", minimum=0, maximum=7620)  # Z-Wave's longest: 127 min
COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("on", "switch"),
        CommandSpec("off", "switch"),
        CommandSpec("toggle", "switch"),
        CommandSpec(
            "set_level",
            "level",
            {"level": AttributeSpec("level", "%", minimum=0, maximum=100, integer=True)},
            {"duration": _DURATION},
        ),
        CommandSpec(
            "set_color_temp",
            "color_temp",
            {"kelvin": AttributeSpec("kelvin", "K", minimum=1000, maximum=10000, integer=True)},
            {"duration": _DURATION},
        ),
        CommandSpec("lock", "lock"),
        CommandSpec("unlock", "lock"),
        CommandSpec(
            "set_heating_setpoint",
            "heating_setpoint",
            {"value": AttributeSpec("value", "degC", minimum=-50, maximum=100)},
        ),
        CommandSpec(
            "set_thermostat_mode",
            "thermostat_mode",
            {"mode": AttributeSpec("mode", choices=("off", "heat", "cool", "auto"))},
        ),
        CommandSpec("refresh", None),
    )
}


@dataclass(frozen=True, slots=True)
class Command:
    """A validated canonical command for one device; build it with `make_command`."""

    device: DeviceId
    name: str
    args: Mapping[str, Value] = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        """`{"device", "command", "args"}`."""
        return {"device": self.device, "command": self.name, "args": dict(self.args)}


def make_command(device: Device, name: object, args: object = None) -> Command:
    """Validate `name`/`args` against `device`'s capabilities; raise InvalidCommand saying why."""
    if not isinstance(name, str):
        raise InvalidCommand(f"command must be a string, not {name!r}", device=device.id)
    spec = COMMANDS.get(name)
    if spec is None:
        known = ", ".join(sorted(COMMANDS))
        raise InvalidCommand(f"unknown command {name!r}; known commands: {known}", device=device.id)
    if spec.capability is not None and spec.capability not in device.capabilities:
        raise InvalidCommand(
            f"{device.id} does not support {name!r} (it has no {spec.capability!r} capability)",
            device=device.id,
        )
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise InvalidCommand(f"args must be an object, not {type(args).__name__}", device=device.id)
    checked: dict[str, Value] = {}
    for key in args:
        if key not in spec.required and key not in spec.optional:
            allowed = ", ".join([*spec.required, *spec.optional]) or "none"
            raise InvalidCommand(f"{name} takes no argument {key!r} (allowed: {allowed})", device=device.id)
    for key, arg_spec in [*spec.required.items(), *spec.optional.items()]:
        if key not in args:
            if key in spec.required:
                raise InvalidCommand(f"{name} needs argument {key!r}", device=device.id)
            continue
        try:
            checked[key] = arg_spec.check(args[key])
        except ValueError as exc:
            raise InvalidCommand(f"{name}: {exc}", device=device.id) from None
    return Command(device.id, name, checked)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The outcome of one command: `ok` or `error` with a reason, and how long it took."""

    status: str
    ms: float
    error: str | None = None

    def to_json(self) -> JSONObject:
        """`{"status", "ms", "error"?}`."""
        out: JSONObject = {"status": self.status, "ms": round(self.ms, 3)}
        if self.error is not None:
            out["error"] = self.error
        return out


# --- events -----------------------------------------------------------------------------------


def now() -> float:
    """Wall-clock time as a POSIX timestamp; the one place this module reads a clock."""
    return time.time()


def rfc3339(ts: float) -> str:
    """A POSIX timestamp as RFC 3339 UTC with milliseconds, e.g. `2026-11-24T19:10:15.123Z`."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class StateChanged:
    """An attribute of a device has a (possibly unchanged) reported value."""

    device: DeviceId
    attribute: str
    value: Value
    ts: float = field(default_factory=now)
    #: The value before this report, filled in by the hub (radios leave it None); not serialised.
    previous: Value | None = None

    def to_json(self) -> JSONObject:
        """The CONTRACT `state` event."""
        return {
            "type": "state",
            "device": self.device,
            "attribute": self.attribute,
            "value": self.value,
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """A button on a device was pressed, held, released or double-pressed (an event, not state)."""

    device: DeviceId
    button: int
    action: str
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT `button` event."""
        return {
            "type": "button",
            "device": self.device,
            "button": self.button,
            "action": self.action,
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True, slots=True)
class DeviceAdded:
    """A device joined, or a radio (re)announced a device it knows, with its description."""

    device: Device
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT `device_added` event."""
        return {"type": "device_added", "device": self.device.to_json(), "ts": rfc3339(self.ts)}


@dataclass(frozen=True, slots=True)
class DeviceRemoved:
    """A device left the network or was excluded."""

    device: DeviceId
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT `device_removed` event."""
        return {"type": "device_removed", "device": self.device, "ts": rfc3339(self.ts)}


@dataclass(frozen=True, slots=True)
class DeviceOnline:
    """A device became reachable (`online=True`) or unreachable."""

    device: DeviceId
    online: bool
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT `device_online` event."""
        return {
            "type": "device_online",
            "device": self.device,
            "online": self.online,
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True, slots=True)
class InclusionUpdate:
    """A joining device needs the user (a DSK PIN) or finished/failed its security bootstrapping."""

    device: DeviceId
    state: str  # pin_required | secured | security_failed | smart_start (a provisioned node joined)
    dsk: str | None = None  # pin_required, smart_start: the DSK with its first 5 digits hidden
    security: str | None = None  # secured: the class granted
    reason: str | None = None  # security_failed: why (e.g. a KEX Fail from the node, a timeout)
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT 9.3 `inclusion` event."""
        out: JSONObject = {"type": "inclusion", "state": self.state, "device": self.device}
        for key in ("dsk", "security", "reason"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["ts"] = rfc3339(self.ts)
        return out


#: The one event type that crosses the radio interface.
DeviceEvent: TypeAlias = (
    StateChanged | ButtonPressed | DeviceAdded | DeviceRemoved | DeviceOnline | InclusionUpdate
)


@dataclass(frozen=True, slots=True)
class RuleFired:
    """A local rule ran its actions; published by the rules runner, not by radios."""

    rule: str
    trigger: str
    latency_ms: float
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """The CONTRACT `rule_fired` event."""
        return {
            "type": "rule_fired",
            "rule": self.rule,
            "trigger": self.trigger,
            "latency_ms": round(self.latency_ms, 3),
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True, slots=True)
class Notification:
    """A rule's `notify` action: a message for the household, delivered through the cloud."""

    rule: str
    message: str
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """`{"type": "notify", "rule", "message", "ts"}`."""
        return {
            "type": "notify",
            "rule": self.rule,
            "message": self.message,
            "ts": rfc3339(self.ts),
        }


@dataclass(frozen=True, slots=True)
class UpdateProgress:
    """Where an over-the-air update is (CONTRACT 9.3); `status` is the `GET /api/v1/update` object."""

    status: JSONObject
    ts: float = field(default_factory=now)

    def to_json(self) -> JSONObject:
        """`{"type": "update", ...status, "ts"}`."""
        return {"type": "update", **self.status, "ts": rfc3339(self.ts)}


#: Everything the event bus carries.
HubEvent: TypeAlias = DeviceEvent | RuleFired | Notification | UpdateProgress
