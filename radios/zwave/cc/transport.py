"""Encapsulating command classes: Supervision and Multi Channel (SDS13781).

Their commands carry another CC command (`inner`), parsed with `parse_cc`, so a malformed inner
command is a ProtocolError of the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from hub_core.errors import ProtocolError
from radios.zwave.cc.base import CCCommand, CommandClass, Inner, register
from radios.zwave.schema import U8, Bits, Field, Flag, Optional, Part, Reader

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


class CCList(Field):
    """A NIF-style CC list to the end of the payload: supported, then controlled after the mark."""

    def __init__(self, supported: str = "ccs", controlled: str = "controlled") -> None:
        self.supported = supported
        self.controlled = controlled

    def read(self, r: Reader, values: dict[str, Any]) -> None:
        values[self.supported], values[self.controlled] = parse_cc_list(r.rest())

    def write(self, obj: Any, out: bytearray) -> None:
        out += encode_cc_list(getattr(obj, self.supported), getattr(obj, self.controlled))


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

    schema = (
        Bits(Flag("more_updates", 0x80), Flag("wake_up_request", 0x40), Part("session_id", 0, 6)),
        U8("status"),
        U8("duration"),
    )

    @property
    def succeeded(self) -> bool:
        """The receiver carried the command out."""
        return self.status == SupervisionStatus.SUCCESS


@register
@dataclass(frozen=True, slots=True)
class SupervisionGet(CCCommand):
    """Supervision Get: status updates|session id(6), length, encapsulated command."""

    cc: ClassVar[int] = CommandClass.SUPERVISION
    command: ClassVar[int] = SupervisionCommand.GET
    session_id: int
    inner: CCCommand
    status_updates: bool = False

    schema = (Bits(Flag("status_updates", 0x80), Part("session_id", 0, 6)), Inner(prefixed=True))
    report = SupervisionReport
    matches = ("session_id",)


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

    schema = (
        Bits(Flag("dynamic", 0x80), Flag("identical", 0x40)),
        Bits(Part("endpoints", 0, 7)),
        Optional(Bits(Part("aggregated", 0, 7))),
    )


@register
@dataclass(frozen=True, slots=True)
class MultiChannelEndPointGet(CCCommand):
    """End Point Get."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.END_POINT_GET
    report = MultiChannelEndPointReport


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

    schema = (
        Bits(Flag("dynamic", 0x80), Part("endpoint", 0, 7)),
        U8("generic_class"),
        U8("specific_class"),
        CCList(),
    )


@register
@dataclass(frozen=True, slots=True)
class MultiChannelCapabilityGet(CCCommand):
    """Capability Get: end point(7)."""

    cc: ClassVar[int] = CommandClass.MULTI_CHANNEL
    command: ClassVar[int] = MultiChannelCommand.CAPABILITY_GET
    endpoint: int

    schema = (Bits(Part("endpoint", 0, 7)),)
    report = MultiChannelCapabilityReport
    matches = ("endpoint",)


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

    schema = (
        Bits(Part("source", 0, 7)),
        Bits(Flag("bit_address", 0x80), Part("destination", 0, 7)),
        Inner(),
    )
