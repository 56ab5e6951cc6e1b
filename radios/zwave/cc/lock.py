"""Door Lock command class, operation commands (SDS13781 Door Lock CC v1-v4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from radios.zwave.cc.base import CCCommand, CommandClass, register
from radios.zwave.schema import U8, Bits, Optional, Part

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

    schema = (U8("mode"),)

    def implied_report(self) -> CCCommand:
        """Carried out, the lock is in `mode`."""
        return DoorLockOperationReport(self.mode)


@register
@dataclass(frozen=True, slots=True)
class DoorLockOperationReport(CCCommand):
    """Operation Report: mode, handles, door condition, timeout min/s [, target mode, duration (v3)]."""

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

    schema = (
        U8("mode"),
        Bits(Part("outside_handles", 4, 4), Part("inside_handles", 0, 4)),
        U8("door_condition"),
        U8("timeout_minutes"),
        U8("timeout_seconds"),
        Optional(U8("target_mode"), U8("duration", none_as=0xFE)),
    )


@register
@dataclass(frozen=True, slots=True)
class DoorLockOperationGet(CCCommand):
    """Operation Get."""

    cc: ClassVar[int] = CommandClass.DOOR_LOCK
    command: ClassVar[int] = DoorLockCommand.OPERATION_GET
    report = DoorLockOperationReport
