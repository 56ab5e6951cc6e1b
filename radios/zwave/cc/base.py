"""The command-class base: `CCCommand`, the CC id enum, the parser registry and shared field codecs.

Rules of this file: nothing here does I/O. A CC command is a frozen dataclass holding plain ints
that declares its wire layout once, as `schema` (radios/zwave/schema.py); `to_payload()` and
`from_payload()` are the one codec reading and writing it, raising only `ProtocolError` for malformed
input. A Get names the report that answers it (`report`) and the attributes that must match
(`matches`); `answered_by` is the pairing the reply correlator uses. Bytes after the fields a
command defines are ignored, as the Z-Wave specification asks of receivers (SDS13781 "forward
compatibility"). Field layouts follow SDS13781 as implemented by zwave-js.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Self, TypeVar

from hub_core.errors import ProtocolError
from radios.zwave.schema import Field, Reader, Schema, decode, encode, encode_bitmask, parse_bitmask


class CommandClass(IntEnum):
    """Command class ids (SDS13548, "Command Class list")."""

    NO_OPERATION = 0x00
    BASIC = 0x20
    BINARY_SWITCH = 0x25
    MULTILEVEL_SWITCH = 0x26
    BINARY_SENSOR = 0x30
    MULTILEVEL_SENSOR = 0x31
    METER = 0x32
    THERMOSTAT_MODE = 0x40
    THERMOSTAT_SETPOINT = 0x43
    CENTRAL_SCENE = 0x5B
    ZWAVE_PLUS_INFO = 0x5E
    MULTI_CHANNEL = 0x60
    DOOR_LOCK = 0x62
    SUPERVISION = 0x6C
    CONFIGURATION = 0x70
    NOTIFICATION = 0x71
    MANUFACTURER_SPECIFIC = 0x72
    POWERLEVEL = 0x73
    BATTERY = 0x80
    WAKE_UP = 0x84
    ASSOCIATION = 0x85
    VERSION = 0x86
    MULTI_CHANNEL_ASSOCIATION = 0x8E
    SECURITY = 0x98
    SECURITY_2 = 0x9F


class CCCommand:
    """One command of one command class; subclasses are frozen slots dataclasses."""

    __slots__ = ()
    cc: ClassVar[int]
    command: ClassVar[int]
    #: The wire layout after the CC id and command id, in wire order.
    schema: ClassVar[Schema] = ()
    #: For a Get: the report class that answers it (None: nothing answers, e.g. a Set).
    report: ClassVar[type[CCCommand] | None] = None
    #: For a Get: attributes the report must repeat (a None in the Get matches any value).
    matches: ClassVar[tuple[str, ...]] = ()

    def to_payload(self) -> bytes:
        """The bytes after the CC id and command id."""
        return encode(self, self.schema)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        """Parse the bytes after the CC id and command id; raise ProtocolError if malformed."""
        return decode(cls, cls.schema, payload, cls.__name__)

    def implied_report(self) -> CCCommand | None:
        """For a Set: the report its success implies (the new state), if it can be known; else None."""
        return None

    def answered_by(self, report: CCCommand) -> bool:
        """`report` answers this Get: of the `report` class, repeating the `matches` attributes."""
        if self.report is None or type(report) is not self.report:
            return False
        for name in self.matches:
            mine = getattr(self, name)
            if mine is not None and getattr(report, name) != mine:
                return False
        return True

    def to_bytes(self) -> bytes:
        """CC id, command id, payload: what goes into SendData / comes out of ApplicationCommandHandler."""
        return bytes((self.cc, self.command)) + self.to_payload()


@dataclass(frozen=True, slots=True)
class UnknownCC(CCCommand):
    """A CC or command this stack does not model; kept whole so it can be logged or forwarded."""

    cc: ClassVar[int] = -1
    command: ClassVar[int] = -1
    cc_id: int
    command_id: int | None
    payload: bytes = b""

    def to_bytes(self) -> bytes:
        """The original bytes."""
        head = bytes((self.cc_id,)) if self.cc_id < 0x100 else self.cc_id.to_bytes(2, "big")
        if self.command_id is None:
            return head
        return head + bytes((self.command_id,)) + self.payload


@dataclass(frozen=True, slots=True)
class NoOperation(CCCommand):
    """The one-byte NOP frame (CC 0x00, no command byte), used to ping a node."""

    cc: ClassVar[int] = CommandClass.NO_OPERATION
    command: ClassVar[int] = -1

    def to_bytes(self) -> bytes:
        """Just the CC id."""
        return b"\x00"


_REGISTRY: dict[tuple[int, int], type[CCCommand]] = {}
_C = TypeVar("_C", bound=type[CCCommand])


def register(cls: _C) -> _C:
    """Class decorator: make `parse_cc` build `cls` for its (cc, command) pair."""
    key = (int(cls.cc), int(cls.command))
    if key in _REGISTRY:
        raise RuntimeError(f"CC 0x{key[0]:02x} command 0x{key[1]:02x} registered twice")
    _REGISTRY[key] = cls
    return cls


def registered() -> dict[tuple[int, int], type[CCCommand]]:
    """Every modelled (cc, command) -> class; a copy."""
    return dict(_REGISTRY)


#: How deep encapsulations (Multi Channel, Supervision) may nest; the spec needs at most two.
MAX_NESTING = 4
# Per thread, so two threads parsing at once do not count each other's nesting.
_nesting = threading.local()


def parse_cc(data: bytes) -> CCCommand:
    """Parse CC id, command id, payload; unknown -> UnknownCC, malformed -> ProtocolError."""
    data = bytes(data)
    if not data:
        raise ProtocolError("empty command class frame")
    if data[0] == CommandClass.NO_OPERATION:
        return NoOperation()
    if data[0] >= 0xF1:  # extended (two-byte) CC ids, SDS13781 4.1
        if len(data) < 3:
            raise ProtocolError(f"extended command class frame too short: {data.hex()}")
        return UnknownCC(int.from_bytes(data[:2], "big"), data[2], data[3:])
    if len(data) < 2:
        raise ProtocolError(f"command class 0x{data[0]:02x} frame has no command byte")
    cls = _REGISTRY.get((data[0], data[1]))
    if cls is None:
        return UnknownCC(data[0], data[1], data[2:])
    depth: int = getattr(_nesting, "depth", 0)
    if depth >= MAX_NESTING:
        raise ProtocolError("command class encapsulation nested too deep")
    _nesting.depth = depth + 1
    try:
        return cls.from_payload(data[2:])
    except ProtocolError:
        raise
    except (IndexError, ValueError) as exc:  # a codec guard we missed is still a peer's fault
        raise ProtocolError(f"malformed {cls.__name__}: {exc}") from None
    finally:
        _nesting.depth = depth


# --- field codecs -------------------------------------------------------------------------------


def need(payload: bytes, length: int, what: str) -> None:
    """Raise ProtocolError unless `payload` has at least `length` bytes."""
    if len(payload) < length:
        raise ProtocolError(
            f"{what}: needs {length} payload bytes, got {len(payload)} ({payload.hex() or 'none'})"
        )


def check_byte(value: int, what: str, maximum: int = 0xFF) -> None:
    """Raise ValueError unless 0 <= value <= maximum (a programming error when building a command)."""
    if not 0 <= value <= maximum:
        raise ValueError(f"{what} must be 0..{maximum}, not {value}")


@dataclass(frozen=True, slots=True)
class ScaledValue:
    """A number with its precision/scale/size byte (SDS13781 "Precision, Scale, Size")."""

    value: float
    scale: int
    precision: int
    size: int


_SIZES = (1, 2, 4)


def parse_scaled(payload: bytes, offset: int, what: str) -> tuple[ScaledValue, int]:
    """Read precision(3)|scale(2)|size(3) and a signed big-endian value at `offset`; return it, end offset."""
    need(payload, offset + 1, what)
    pss = payload[offset]
    precision, scale, size = pss >> 5, (pss >> 3) & 0b11, pss & 0b111
    if size not in _SIZES:
        raise ProtocolError(f"{what}: value size must be 1, 2 or 4, not {size}")
    need(payload, offset + 1 + size, what)
    raw = int.from_bytes(payload[offset + 1 : offset + 1 + size], "big", signed=True)
    value = raw / 10**precision if precision else float(raw)
    return ScaledValue(value, scale, precision, size), offset + 1 + size


def encode_scaled(value: float, scale: int, precision: int | None = None, size: int | None = None) -> bytes:
    """Precision/scale/size byte and value; picks the smallest precision and size that hold `value`."""
    check_byte(scale, "scale", 3)
    if precision is None:
        precision = 0
        while precision < 7 and round(value * 10**precision) != round(value * 10**precision, 6):
            precision += 1
    factor: int = 10**precision
    raw = round(value * factor)
    if size is None:
        size = next((s for s in _SIZES if -(1 << (8 * s - 1)) <= raw < (1 << (8 * s - 1))), 0)
        if not size:
            raise ValueError(f"{value} does not fit in 4 bytes with precision {precision}")
    return bytes(((precision << 5) | (scale << 3) | size,)) + raw.to_bytes(size, "big", signed=True)


def decode_duration(byte: int) -> float | None:
    """Duration byte: 0-127 s, 0x80-0xFD as 1-126 min; 0xFE unknown and 0xFF default give None."""
    if byte <= 0x7F:
        return float(byte)
    if byte <= 0xFD:
        return float((byte - 0x7F) * 60)
    return None


def encode_duration(seconds: float | None) -> int:
    """Seconds -> duration byte; None is the device default (0xFF); above 127 s rounds to whole minutes."""
    if seconds is None:
        return 0xFF
    if seconds < 0:
        raise ValueError(f"duration must not be negative, not {seconds}")
    if seconds <= 127:
        return round(seconds)
    minutes = min(max(1, round(seconds / 60)), 127)
    return 0x7F + minutes


class Scaled(Field):
    """Precision|scale|size byte and value (SDS13781): fills `value`, `scale`, `precision`, `size`."""

    size = 2

    def __init__(self, value: str = "value", scale: str = "scale") -> None:
        self.value = value
        self.scale = scale

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        scaled, end = parse_scaled(r.data, r.pos, r.what)
        r.pos = end
        values[self.value] = scaled.value
        values[self.scale] = scaled.scale
        values["precision"] = scaled.precision
        values["size"] = scaled.size

    def write(self, obj: Any, out: bytearray) -> None:
        out += encode_scaled(getattr(obj, self.value), getattr(obj, self.scale), obj.precision, obj.size)


class Inner(Field):
    """An encapsulated CC command: to the end of the payload, or after a length byte (`prefixed`)."""

    def __init__(self, name: str = "inner", *, prefixed: bool = False) -> None:
        self.name = name
        self.prefixed = prefixed

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        data = r.take(r.byte("encapsulated length"), self.name) if self.prefixed else r.rest()
        values[self.name] = parse_cc(data)

    def write(self, obj: Any, out: bytearray) -> None:
        body = getattr(obj, self.name).to_bytes()
        if self.prefixed:
            check_byte(len(body), "encapsulated length")
            out.append(len(body))
        out += body


__all__ = [
    "CCCommand",
    "CommandClass",
    "Inner",
    "NoOperation",
    "Scaled",
    "ScaledValue",
    "UnknownCC",
    "check_byte",
    "decode_duration",
    "encode_bitmask",
    "encode_duration",
    "encode_scaled",
    "need",
    "parse_bitmask",
    "parse_cc",
    "parse_scaled",
    "register",
    "registered",
]
