"""Encapsulating command classes: Supervision and Multi Channel (SDS13781).

Their commands carry another CC command (`inner`), parsed with `parse_cc`, so a malformed inner
command is a ProtocolError of the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from hub_core.errors import ProtocolError
from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, need, parse_cc, register

__all__ = [
    "SUPPORT_CONTROL_MARK",
    "MultiChannelCapabilityGet",
    "MultiChannelCapabilityReport",
    "MultiChannelCommand",
    "MultiChannelCommandEncapsulation",
    "MultiChannelEndPointGet",
    "MultiChannelEndPointReport",
    "SupervisionCommand",
    "SupervisionGet",
    "SupervisionReport",
    "SupervisionStatus",
    "encode_cc_list",
    "parse_cc_list",
]


class SupervisionCommand(IntEnum):
    """Supervision CC commands."""

    GET = 0x01
    REPORT = 0x02


class SupervisionStatus(IntEnum):
    """Supervision Report status."""

    NO_SUPPORT = 0x00
    WORKING = 0x01
    FAIL = 0x02
    SUCCESS = 0xFF


class MultiChannelCommand(IntEnum):
    """Multi Channel CC (v3+) commands."""

    END_POINT_GET = 0x07
    END_POINT_REPORT = 0x08
    CAPABILITY_GET = 0x09
    CAPABILITY_REPORT = 0x0A
    END_POINT_FIND = 0x0B
    END_POINT_FIND_REPORT = 0x0C
    COMMAND_ENCAPSULATION = 0x0D


#: In a CC list, CCs after this mark are controlled, not supported (SDS13781 Node Information Frame).
SUPPORT_CONTROL_MARK = 0xEF


@register
@dataclass(frozen=True, slots=True)
class SupervisionGet(CCCommand):
    """Supervision Get: status updates|session id(6), length, encapsulated command."""

    cc: ClassVar[int] = CommandClass.SUPERVISION
    command: ClassVar[int] = SupervisionCommand.GET
    session_id: int
    inner: CCCommand
    status_updates: bool = False

    def to_payload(self) -> bytes:
        check_byte(self.session_id, "session id", 0x3F)
        body = self.inner.to_bytes()
        check_byte(len(body), "encapsulated length")
        return bytes(((0x80 if self.status_updates else 0) | self.session_id, len(body))) + body

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        length = payload[1]
        need(payload, 2 + length, cls.__name__)
        return cls(payload[0] & 0x3F, parse_cc(payload[2 : 2 + length]), bool(payload[0] & 0x80))


@register
@dataclass(frozen=True, slots=True)
class SupervisionReport(CCCommand):
    """Supervision Report: more updates|wake-up request|session id(6), status, duration."""

    cc: ClassVar[int] = CommandClass.SUPERVISION
    command: ClassVar[int] = SupervisionCommand.REPORT
    session_id: int
    status: int
    duration: int = 0
    more_updates: bool = False
    wake_up_request: bool = False

    @property
    def succeeded(self) -> bool:
        """The receiver carried the command out."""
        return self.status == SupervisionStatus.SUCCESS

    def to_payload(self) -> bytes:
        check_byte(self.session_id, "session id", 0x3F)
        check_byte(self.status, "status")
        check_byte(self.duration, "duration")
        flags = (0x80 if self.more_updates else 0) | (0x40 if self.wake_up_request else 0)
        return bytes((flags | self.session_id, self.status, self.duration))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, cls.__name__)
        return cls(
            payload[0] & 0x3F, payload[1], payload[2], bool(payload[0] & 0x80), bool(payload[0] & 0x40)
        )


@register
@dataclass(frozen=True, slots=True)
class MultiChannelEndPointGet(CCCommand):
    """End Point Get."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.END_POINT_GET


@register
@dataclass(frozen=True, slots=True)
class MultiChannelEndPointReport(CCCommand):
    """End Point Report: dynamic|identical flags, individual end points(7) [, aggregated(7) (v4)]."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.END_POINT_REPORT
    endpoints: int
    dynamic: bool = False
    identical: bool = False
    aggregated: int | None = None

    def to_payload(self) -> bytes:
        check_byte(self.endpoints, "end point count", 0x7F)
        out = bytes(((0x80 if self.dynamic else 0) | (0x40 if self.identical else 0), self.endpoints))
        if self.aggregated is not None:
            check_byte(self.aggregated, "aggregated end point count", 0x7F)
            out += bytes((self.aggregated,))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        aggregated = payload[2] & 0x7F if len(payload) >= 3 else None
        return cls(payload[1] & 0x7F, bool(payload[0] & 0x80), bool(payload[0] & 0x40), aggregated)


@register
@dataclass(frozen=True, slots=True)
class MultiChannelCapabilityGet(CCCommand):
    """Capability Get: end point(7)."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.CAPABILITY_GET
    endpoint: int

    def to_payload(self) -> bytes:
        check_byte(self.endpoint, "end point", 0x7F)
        return bytes((self.endpoint,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0] & 0x7F)


def parse_cc_list(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A NIF-style CC list -> (supported, controlled); two-byte ids for 0xF1-0xFF (SDS13781 4.1)."""
    supported: list[int] = []
    controlled: list[int] = []
    target = supported
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == SUPPORT_CONTROL_MARK:
            target = controlled
            i += 1
            continue
        if byte >= 0xF1:
            if i + 1 >= len(data):
                raise ProtocolError(f"CC list ends inside an extended CC id: {data.hex()}")
            target.append(int.from_bytes(data[i : i + 2], "big"))
            i += 2
            continue
        target.append(byte)
        i += 1
    return tuple(supported), tuple(controlled)


def encode_cc_list(supported: tuple[int, ...], controlled: tuple[int, ...] = ()) -> bytes:
    """Inverse of `parse_cc_list`."""

    def one(cc: int) -> bytes:
        return cc.to_bytes(2 if cc > 0xFF else 1, "big")

    out = b"".join(one(c) for c in supported)
    if controlled:
        out += bytes((SUPPORT_CONTROL_MARK,)) + b"".join(one(c) for c in controlled)
    return out


@register
@dataclass(frozen=True, slots=True)
class MultiChannelCapabilityReport(CCCommand):
    """Capability Report: dynamic|end point(7), generic class, specific class, supported CCs."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.CAPABILITY_REPORT
    endpoint: int
    generic_class: int
    specific_class: int
    ccs: tuple[int, ...]
    controlled: tuple[int, ...] = ()
    dynamic: bool = False

    def to_payload(self) -> bytes:
        check_byte(self.endpoint, "end point", 0x7F)
        check_byte(self.generic_class, "generic device class")
        check_byte(self.specific_class, "specific device class")
        head = bytes(((0x80 if self.dynamic else 0) | self.endpoint, self.generic_class, self.specific_class))
        return head + encode_cc_list(self.ccs, self.controlled)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, cls.__name__)
        supported, controlled = parse_cc_list(payload[3:])
        return cls(payload[0] & 0x7F, payload[1], payload[2], supported, controlled, bool(payload[0] & 0x80))


@register
@dataclass(frozen=True, slots=True)
class MultiChannelCommandEncapsulation(CCCommand):
    """Command Encapsulation: source end point(7), bit address|destination end point(7), command."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.COMMAND_ENCAPSULATION
    source: int
    destination: int
    inner: CCCommand
    bit_address: bool = False  # destination is a bitmask of end points 1-7

    def to_payload(self) -> bytes:
        check_byte(self.source, "source end point", 0x7F)
        check_byte(self.destination, "destination end point", 0x7F)
        dest = (0x80 if self.bit_address else 0) | self.destination
        return bytes((self.source, dest)) + self.inner.to_bytes()

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, cls.__name__)
        return cls(payload[0] & 0x7F, payload[1] & 0x7F, parse_cc(payload[2:]), bool(payload[1] & 0x80))
