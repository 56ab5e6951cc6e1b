"""Simulated Z-Wave nodes for the controller emulator: they answer command class bytes like devices do.

Rules of this file: nodes speak raw command class bytes written here from the Z-Wave specifications,
independently of the host's own command class code, so the emulator checks the host rather than
echoing it. A node's state is kept in canonical attribute names (`switch`, `level`, ...).
"""

from __future__ import annotations

import functools
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hub_core.model import Value
from radios.zwave.messages import NodeInfo

# Command class ids (SDS13548), spelled out here on purpose rather than imported from the host.
#: CC commands a node keeps for tests to inspect (the oldest are forgotten).
RECEIVED_LOG = 64

BASIC = 0x20
SWITCH_BINARY = 0x25
SWITCH_MULTILEVEL = 0x26
SENSOR_BINARY = 0x30
SENSOR_MULTILEVEL = 0x31
METER = 0x32
THERMOSTAT_MODE = 0x40
THERMOSTAT_SETPOINT = 0x43
CENTRAL_SCENE = 0x5B
MULTI_CHANNEL = 0x60
DOOR_LOCK = 0x62
SUPERVISION = 0x6C
NOTIFICATION = 0x71
MANUFACTURER_SPECIFIC = 0x72
BATTERY = 0x80
WAKE_UP = 0x84
ASSOCIATION = 0x85
VERSION = 0x86

#: Multilevel sensor type -> (attribute, scale, precision).
SENSORS: dict[int, tuple[str, int, int]] = {
    0x01: ("temperature", 0, 1),  # Air temperature, Celsius
    0x03: ("illuminance", 1, 0),  # Illuminance, lux
    0x05: ("humidity", 0, 0),  # Humidity, percent
}
#: Notification (type, event) for each attribute value; event 0 is "idle".
NOTIFICATIONS: dict[str, tuple[int, dict[str, int]]] = {
    "motion": (0x07, {"active": 0x08, "inactive": 0x00}),
    "contact": (0x06, {"open": 0x16, "closed": 0x17}),
    "water": (0x05, {"wet": 0x02, "dry": 0x00}),
}
THERMOSTAT_MODES = {"off": 0x00, "heat": 0x01, "cool": 0x02, "auto": 0x03}
CENTRAL_SCENE_KEYS = {"pressed": 0x00, "released": 0x01, "held": 0x02, "double": 0x03}


def encode_float(value: float, precision: int, scale: int) -> bytes:
    """Precision/scale/size byte plus a signed big-endian value (SDS13781 sensor encoding)."""
    raw = round(value * 10**precision)
    size = 1 if -128 <= raw <= 127 else 2 if -32768 <= raw <= 32767 else 4
    fmt = {1: ">b", 2: ">h", 4: ">i"}[size]
    return bytes(((precision << 5) | (scale << 3) | size,)) + struct.pack(fmt, raw)


def decode_float(data: bytes) -> tuple[float, int, int]:
    """Inverse of `encode_float`: (value, scale, bytes consumed)."""
    precision, scale, size = data[0] >> 5, (data[0] >> 3) & 0x03, data[0] & 0x07
    raw = int.from_bytes(data[1 : 1 + size], "big", signed=True)
    return raw / 10**precision, scale, 1 + size


def bitmask(values: list[int] | tuple[int, ...], offset: int = 0) -> bytes:
    """A bitmask where bit 0 of byte 0 stands for `offset`."""
    if not values:
        return b"\x00"
    out = bytearray((max(values) - offset) // 8 + 1)
    for value in values:
        out[(value - offset) // 8] |= 1 << ((value - offset) % 8)
    return bytes(out)


@dataclass(slots=True)
class SimNode:
    """One simulated node: what it is, what it supports, its state, and whether it can hear us."""

    node_id: int
    name: str
    model: str
    generic: int
    specific: int
    versions: dict[int, int]
    state: dict[str, Value] = field(default_factory=dict)
    listening: bool = True
    product: tuple[int, int, int] = (0x0086, 0x0003, 0x0001)
    awake: bool = True
    reachable: bool = True
    wakeup_interval: int = 0
    #: Acknowledges frames (the radio hears it) but never answers: a half-broken device.
    mute: bool = False
    associations: dict[int, list[int]] = field(default_factory=dict)
    #: The CC commands the node received from the controller, oldest first (the last RECEIVED_LOG:
    #: a simulated hub runs for days under `hub-agent run`).
    received: deque[bytes] = field(default_factory=lambda: deque(maxlen=RECEIVED_LOG))
    #: Set by the emulator: sends CC bytes from this node to the controller, unsolicited.
    send: Callable[[bytes], None] | None = None
    #: Multi Channel end points (each a SimNode of its own, sharing the node's radio).
    endpoints: dict[int, SimNode] = field(default_factory=dict)
    _scene_seq: int = 0

    def __post_init__(self) -> None:
        for number, endpoint in self.endpoints.items():
            endpoint.send = functools.partial(self._send_from_endpoint, number)

    def _send_from_endpoint(self, endpoint: int, data: bytes) -> None:
        self._send(bytes((MULTI_CHANNEL, 0x0D, endpoint, 0x00)) + data)

    def endpoint(self, number: int) -> SimNode:
        """End point `number` of a Multi Channel node."""
        return self.endpoints[number]

    @property
    def info(self) -> NodeInfo:
        """The node information frame."""
        return NodeInfo(0x04, self.generic, self.specific, tuple(self.versions))

    @property
    def sleeping(self) -> bool:
        """True for a battery node that sleeps between wake-ups."""
        return not self.listening

    # --- what the outside world does to the node -------------------------------------------------

    def report(self, attribute: str, value: Value) -> None:
        """The device's value changed by itself (a sensor reading, a hand on the switch): it reports."""
        self.state[attribute] = value
        for data in self.reports_for(attribute):
            self._send(data)

    def press(self, scene: int = 1, action: str = "pressed") -> None:
        """Someone pressed a button: a Central Scene notification goes out."""
        self._scene_seq = (self._scene_seq + 1) % 256
        self._send(bytes((CENTRAL_SCENE, 0x03, self._scene_seq, CENTRAL_SCENE_KEYS[action], scene)))

    def wake_up(self) -> None:
        """The node's wake-up timer fired: it says so and listens until told No More Information."""
        self.awake = True
        self._send(bytes((WAKE_UP, 0x07)))

    def _send(self, data: bytes) -> None:
        if self.send is not None:
            self.send(data)

    # --- command classes -------------------------------------------------------------------------

    def handle(self, data: bytes) -> list[bytes]:
        """The node received CC bytes; return the CC frames it sends back (reports)."""
        self.received.append(data)
        if len(data) < 2 or self.mute:
            return []
        cc, command, args = data[0], data[1], data[2:]
        if cc == SUPERVISION and command == 0x01 and len(args) >= 2:
            session = args[0] & 0x3F
            inner = args[2 : 2 + args[1]]
            replies = self.handle(inner) if inner else []
            # Supervision Report: session, status SUCCESS (0xFF), duration 0.
            return [bytes((SUPERVISION, 0x02, session, 0xFF, 0x00)), *replies]
        if cc == MULTI_CHANNEL and self.endpoints:
            return self._multi_channel(command, args)
        if cc not in self.versions:
            return []
        handler = _HANDLERS.get(cc)
        return handler(self, command, args) if handler is not None else []

    def _multi_channel(self, command: int, args: bytes) -> list[bytes]:
        if command == 0x07:  # End Point Get -> identical flag off, count
            return [bytes((MULTI_CHANNEL, 0x08, 0x00, len(self.endpoints)))]
        if command == 0x09 and args and args[0] & 0x7F in self.endpoints:
            ep = self.endpoints[args[0] & 0x7F]
            return [bytes((MULTI_CHANNEL, 0x0A, args[0] & 0x7F, ep.generic, ep.specific, *ep.versions))]
        if command == 0x0D and len(args) >= 3 and args[1] & 0x7F in self.endpoints:
            number = args[1] & 0x7F
            replies = self.endpoints[number].handle(args[2:])
            return [bytes((MULTI_CHANNEL, 0x0D, number, args[0] & 0x7F)) + r for r in replies]
        return []

    def reports_for(self, attribute: str) -> list[bytes]:
        """The report(s) a node sends for its current value of `attribute`."""
        state = self.state
        if attribute == "switch" and SWITCH_BINARY in self.versions:
            return [bytes((SWITCH_BINARY, 0x03, 0xFF if state.get("switch") == "on" else 0x00))]
        if attribute in ("switch", "level") and SWITCH_MULTILEVEL in self.versions:
            level = int(state.get("level", 0)) if state.get("switch") == "on" else 0
            return [bytes((SWITCH_MULTILEVEL, 0x03, min(99, level), min(99, level), 0x00))]
        if attribute in ("power", "energy") and METER in self.versions:
            scale = 2 if attribute == "power" else 0
            value = encode_float(float(state.get(attribute, 0.0)), 2, scale)
            return [bytes((METER, 0x02, 0x21)) + value + b"\x00\x00"]
        if attribute == "battery":
            return [bytes((BATTERY, 0x03, int(state.get("battery", 100))))]
        if attribute == "lock":
            mode = 0xFF if state.get("lock") == "locked" else 0x00
            if state.get("lock") == "jammed":
                return [_notification(0x06, 0x0B)]
            return [bytes((DOOR_LOCK, 0x03, mode, 0x00, 0x00, 0xFE, 0xFE))]
        if attribute in NOTIFICATIONS:
            kind, events = NOTIFICATIONS[attribute]
            return [_notification(kind, events[str(state.get(attribute))])]
        for sensor_type, (name, scale, precision) in SENSORS.items():
            if attribute == name and SENSOR_MULTILEVEL in self.versions:
                value = encode_float(float(state.get(name, 0.0)), precision, scale)
                return [bytes((SENSOR_MULTILEVEL, 0x05, sensor_type)) + value]
        if attribute == "thermostat_mode":
            return [bytes((THERMOSTAT_MODE, 0x03, THERMOSTAT_MODES[str(state.get("thermostat_mode"))]))]
        if attribute == "heating_setpoint":
            value = encode_float(float(state.get("heating_setpoint", 20.0)), 1, 0)
            return [bytes((THERMOSTAT_SETPOINT, 0x03, 0x01)) + value]
        return []

    def sensor_types(self) -> list[int]:
        """The multilevel sensor types this node has."""
        return [t for t, (name, _, _) in SENSORS.items() if name in self.state]

    def notification_types(self) -> list[int]:
        """The notification types this node reports."""
        types = [NOTIFICATIONS[a][0] for a in NOTIFICATIONS if a in self.state]
        if "lock" in self.state and NOTIFICATION in self.versions:
            types.append(0x06)
        return sorted(set(types))


def _notification(kind: int, event: int) -> bytes:
    # v1 type, v1 level, reserved, status ON, type, event, no parameters
    return bytes((NOTIFICATION, 0x05, 0x00, 0x00, 0x00, 0xFF, kind, event, 0x00))


def _switch_binary(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and args:
        node.state["switch"] = "off" if args[0] == 0 else "on"
        if "power" in node.state:
            node.state["power"] = 42.0 if node.state["switch"] == "on" else 0.0
        return node.reports_for("switch") + node.reports_for("power")
    if command == 0x02:
        return node.reports_for("switch")
    return []


def _switch_multilevel(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and args:
        value = args[0]
        if value == 0xFF:
            value = int(node.state.get("last_level", 99)) or 99
        value = min(99, value)
        node.state["switch"] = "on" if value else "off"
        if value:
            node.state["level"] = 100 if value == 99 else value
            node.state["last_level"] = value
        else:
            node.state["level"] = 0
        return node.reports_for("level")
    if command == 0x02:
        return node.reports_for("level")
    return []


def _basic(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if SWITCH_MULTILEVEL in node.versions:
        return _switch_multilevel(node, command, args)
    if SWITCH_BINARY in node.versions:
        return _switch_binary(node, command, args)
    return []


def _sensor_multilevel(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01:  # Supported Sensor Get -> bitmask, bit 0 = type 1
        return [bytes((SENSOR_MULTILEVEL, 0x02)) + bitmask(node.sensor_types(), 1)]
    if command == 0x03 and args:  # Supported Scale Get
        scale = SENSORS.get(args[0], ("", 0, 0))[1]
        return [bytes((SENSOR_MULTILEVEL, 0x06, args[0], 1 << scale))]
    if command == 0x04:
        types = node.sensor_types()
        wanted = args[0] if args and args[0] in types else (types[0] if types else None)
        return node.reports_for(SENSORS[wanted][0]) if wanted is not None else []
    return []


def _meter(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01:
        scale = (args[0] >> 3) & 0x07 if args else 0
        return node.reports_for("power" if scale == 2 else "energy")
    if command == 0x03:  # Supported Get: can reset, electric meter, scales kWh (0) and W (2)
        return [bytes((METER, 0x04, 0x80 | 0x01, 0b0000_0101))]
    return []


def _notification_cc(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x07:  # Supported Get -> bitmask of types, bit 0 = type 0
        mask = bitmask(node.notification_types(), 0)
        return [bytes((NOTIFICATION, 0x08, len(mask))) + mask]
    if command == 0x01 and args:  # Event Supported Get
        events = [
            e for a, (t, m) in NOTIFICATIONS.items() if t == args[0] and a in node.state for e in m.values()
        ]
        if args[0] == 0x06 and "lock" in node.state:
            events.append(0x0B)
        mask = bitmask(sorted({e for e in events if e}), 0)
        return [bytes((NOTIFICATION, 0x02, args[0], len(mask))) + mask]
    if command == 0x04:
        kind = args[1] if len(args) > 1 else 0
        for attribute, (t, _) in NOTIFICATIONS.items():
            if attribute in node.state and (kind in (0, 0xFF) or kind == t):
                return node.reports_for(attribute)
    return []


def _door_lock(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and args:
        node.state["lock"] = "unlocked" if args[0] == 0x00 else "locked"
        return node.reports_for("lock")
    if command == 0x02:
        return node.reports_for("lock")
    return []


def _battery(node: SimNode, command: int, args: bytes) -> list[bytes]:
    return node.reports_for("battery") if command == 0x02 else []


def _thermostat_mode(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and args:
        names = {v: k for k, v in THERMOSTAT_MODES.items()}
        node.state["thermostat_mode"] = names.get(args[0] & 0x1F, "off")
        return node.reports_for("thermostat_mode")
    if command == 0x02:
        return node.reports_for("thermostat_mode")
    if command == 0x04:
        return [bytes((THERMOSTAT_MODE, 0x05)) + bitmask(list(THERMOSTAT_MODES.values()), 0)]
    return []


def _thermostat_setpoint(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and len(args) >= 2:
        value, _, _ = decode_float(args[1:])
        node.state["heating_setpoint"] = value
        return node.reports_for("heating_setpoint")
    if command == 0x02:
        return node.reports_for("heating_setpoint")
    if command == 0x04:  # Supported Get: heating (type 1) -> bit 1
        return [bytes((THERMOSTAT_SETPOINT, 0x05, 0x02))]
    return []


def _central_scene(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01:  # Supported Get: 2 scenes, identical, keys pressed/released/held/double
        return [bytes((CENTRAL_SCENE, 0x02, 0x02, 0x01, 0x0F))]
    return []


def _version(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x13 and args:
        return [bytes((VERSION, 0x14, args[0], node.versions.get(args[0], 0)))]
    if command == 0x11:
        return [bytes((VERSION, 0x12, 0x03, 0x07, 0x12, 0x01, 0x00))]
    return []


def _manufacturer(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x04:
        return [bytes((MANUFACTURER_SPECIFIC, 0x05)) + b"".join(v.to_bytes(2, "big") for v in node.product)]
    return []


def _wake_up(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x04 and len(args) >= 3:
        node.wakeup_interval = int.from_bytes(args[:3], "big")
    elif command == 0x05:
        return [bytes((WAKE_UP, 0x06)) + node.wakeup_interval.to_bytes(3, "big") + b"\x01"]
    elif command == 0x08:
        node.awake = False
    elif command == 0x09:  # Interval Capabilities Get: min 5 min, max 1 day, default 1 h, step 1 min
        values = (300, 86400, 3600, 60)
        return [bytes((WAKE_UP, 0x0A)) + b"".join(v.to_bytes(3, "big") for v in values)]
    return []


def _association(node: SimNode, command: int, args: bytes) -> list[bytes]:
    if command == 0x01 and args:
        group = node.associations.setdefault(args[0], [])
        group.extend(n for n in args[1:] if n not in group)
    elif command == 0x02 and args:
        nodes = node.associations.get(args[0], [])
        return [bytes((ASSOCIATION, 0x03, args[0], 5, 0, *nodes))]
    elif command == 0x05:  # Groupings Get
        return [bytes((ASSOCIATION, 0x06, 1))]
    return []


_HANDLERS: dict[int, Callable[[SimNode, int, bytes], list[bytes]]] = {
    BASIC: _basic,
    SWITCH_BINARY: _switch_binary,
    SWITCH_MULTILEVEL: _switch_multilevel,
    SENSOR_MULTILEVEL: _sensor_multilevel,
    METER: _meter,
    NOTIFICATION: _notification_cc,
    DOOR_LOCK: _door_lock,
    BATTERY: _battery,
    THERMOSTAT_MODE: _thermostat_mode,
    THERMOSTAT_SETPOINT: _thermostat_setpoint,
    CENTRAL_SCENE: _central_scene,
    VERSION: _version,
    MANUFACTURER_SPECIFIC: _manufacturer,
    WAKE_UP: _wake_up,
    ASSOCIATION: _association,
}

_COMMON = {MANUFACTURER_SPECIFIC: 2, VERSION: 3, ASSOCIATION: 2}


def double_switch(node_id: int = 10) -> SimNode:
    """A two-channel relay: a Multi Channel node whose end points 1 and 2 are binary switches."""

    def channel(number: int) -> SimNode:
        return SimNode(
            node_id, f"Relay {number}", "Sim relay channel", 0x10, 0x01, {SWITCH_BINARY: 2}, {"switch": "off"}
        )

    return SimNode(
        node_id,
        "Double relay",
        "Sim double relay",
        0x10,
        0x01,
        {MULTI_CHANNEL: 4, SWITCH_BINARY: 2, **_COMMON},
        {"switch": "off"},
        product=(0x010F, 0x0203, 0x1000),
        endpoints={1: channel(1), 2: channel(2)},
    )


def household() -> list[SimNode]:
    """The default simulated household, in the order it joins (node ids assigned from 2)."""
    return [
        SimNode(
            2,
            "Porch switch",
            "Sim switch",
            0x10,
            0x01,
            {SWITCH_BINARY: 2, BASIC: 1, METER: 3, SUPERVISION: 1, **_COMMON},
            {"switch": "off", "power": 0.0, "energy": 3.5},
            product=(0x0086, 0x0003, 0x0060),
        ),
        SimNode(
            3,
            "Hall dimmer",
            "Sim dimmer",
            0x11,
            0x01,
            {SWITCH_MULTILEVEL: 4, BASIC: 1, **_COMMON},
            {"switch": "off", "level": 0},
            product=(0x0086, 0x0003, 0x0063),
        ),
        SimNode(
            4,
            "Hall multisensor",
            "Sim multisensor",
            0x21,
            0x01,
            {SENSOR_MULTILEVEL: 11, NOTIFICATION: 8, BATTERY: 1, WAKE_UP: 2, **_COMMON},
            {
                "temperature": 20.5,
                "humidity": 50.0,
                "illuminance": 80.0,
                "motion": "inactive",
                "battery": 100,
            },
            listening=False,
            product=(0x0086, 0x0002, 0x0064),
        ),
        SimNode(
            5,
            "Front door lock",
            "Sim lock",
            0x40,
            0x03,
            {DOOR_LOCK: 2, NOTIFICATION: 8, BATTERY: 1, SUPERVISION: 1, **_COMMON},
            {"lock": "locked", "battery": 76},
            product=(0x0090, 0x0001, 0x0236),
        ),
        SimNode(
            6,
            "Back door contact",
            "Sim contact",
            0x07,
            0x01,
            {NOTIFICATION: 8, BATTERY: 1, WAKE_UP: 2, **_COMMON},
            {"contact": "closed", "battery": 92},
            listening=False,
            product=(0x0086, 0x0002, 0x0078),
        ),
        SimNode(
            7,
            "Boiler leak sensor",
            "Sim leak",
            0x07,
            0x01,
            {NOTIFICATION: 8, BATTERY: 1, WAKE_UP: 2, **_COMMON},
            {"water": "dry", "battery": 99},
            listening=False,
            product=(0x0086, 0x0002, 0x007A),
        ),
        SimNode(
            8,
            "Thermostat",
            "Sim thermostat",
            0x08,
            0x06,
            {THERMOSTAT_MODE: 3, THERMOSTAT_SETPOINT: 3, SENSOR_MULTILEVEL: 5, **_COMMON},
            {"temperature": 20.0, "heating_setpoint": 20.0, "thermostat_mode": "heat"},
            product=(0x0190, 0x0001, 0x0001),
        ),
        SimNode(
            9,
            "Scene remote",
            "Sim remote",
            0x18,
            0x01,
            {CENTRAL_SCENE: 3, BATTERY: 1, WAKE_UP: 2, **_COMMON},
            {"battery": 80},
            listening=False,
            product=(0x0086, 0x0001, 0x0082),
        ),
    ]
