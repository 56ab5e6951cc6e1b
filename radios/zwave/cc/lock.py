"""Door Lock command class, operation commands (SDS13781 Door Lock CC v1-v4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, need, register

__all__ = [
    "BOLT_UNLOCKED_BIT",
    "DOOR_CLOSED_BIT",
    "LATCH_CLOSED_BIT",
    "DoorLockCommand",
    "DoorLockMode",
    "DoorLockOperationGet",
    "DoorLockOperationReport",
    "DoorLockOperationSet",
]


class DoorLockCommand(IntEnum):
    """Door Lock CC commands."""

    OPERATION_SET = 0x01
    OPERATION_GET = 0x02
    OPERATION_REPORT = 0x03
    CONFIGURATION_SET = 0x04
    CONFIGURATION_GET = 0x05
    CONFIGURATION_REPORT = 0x06
    CAPABILITIES_GET = 0x07
    CAPABILITIES_REPORT = 0x08


class DoorLockMode(IntEnum):
    """Door lock modes."""

    UNSECURED = 0x00
    UNSECURED_WITH_TIMEOUT = 0x01
    INSIDE_UNSECURED = 0x10
    INSIDE_UNSECURED_WITH_TIMEOUT = 0x11
    OUTSIDE_UNSECURED = 0x20
    OUTSIDE_UNSECURED_WITH_TIMEOUT = 0x21
    UNKNOWN = 0xFE
    SECURED = 0xFF


#: Door condition bits in the Operation Report (bit set = open / unlocked / open).
DOOR_CLOSED_BIT = 0x01
BOLT_UNLOCKED_BIT = 0x02
LATCH_CLOSED_BIT = 0x04


@register
@dataclass(frozen=True, slots=True)
class DoorLockOperationSet(CCCommand):
    """Operation Set: door lock mode."""

    cc: ClassVar[int] = CommandClass.DOOR_LOCK
    command: ClassVar[int] = DoorLockCommand.OPERATION_SET
    mode: int

    def to_payload(self) -> bytes:
        check_byte(self.mode, "door lock mode")
        return bytes((self.mode,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


@register
@dataclass(frozen=True, slots=True)
class DoorLockOperationGet(CCCommand):
    """Operation Get."""

    cc: ClassVar[int] = CommandClass.DOOR_LOCK
    command: ClassVar[int] = DoorLockCommand.OPERATION_GET


@register
@dataclass(frozen=True, slots=True)
class DoorLockOperationReport(CCCommand):
    """Operation Report: mode, outside<<4|inside handles, door condition, timeout m/s [, target, time]."""

    cc: ClassVar[int] = CommandClass.DOOR_LOCK
    command: ClassVar[int] = DoorLockCommand.OPERATION_REPORT
    mode: int
    outside_handles: int = 0
    inside_handles: int = 0
    door_condition: int = 0
    timeout_minutes: int = 0xFE  # 0xFE: no timeout
    timeout_seconds: int = 0xFE
    target_mode: int | None = None
    duration: int | None = None

    def to_payload(self) -> bytes:
        for name in ("mode", "door_condition", "timeout_minutes", "timeout_seconds"):
            check_byte(getattr(self, name), name)
        check_byte(self.outside_handles, "outside handles", 0x0F)
        check_byte(self.inside_handles, "inside handles", 0x0F)
        out = bytes(
            (
                self.mode,
                self.outside_handles << 4 | self.inside_handles,
                self.door_condition,
                self.timeout_minutes,
                self.timeout_seconds,
            )
        )
        if self.target_mode is not None:
            check_byte(self.target_mode, "target mode")
            duration = 0xFE if self.duration is None else self.duration
            check_byte(duration, "duration")
            out += bytes((self.target_mode, duration))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 5, cls.__name__)
        target = duration = None
        if len(payload) >= 7:
            target, duration = payload[5], payload[6]
        return cls(
            payload[0],
            payload[1] >> 4,
            payload[1] & 0x0F,
            payload[2],
            payload[3],
            payload[4],
            target,
            duration,
        )
