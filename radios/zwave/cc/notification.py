"""Notification command class (formerly Alarm; SDS13781 Notification CC v1-v8).

A v1 device sends only the "V1 alarm" type and level; from v2 on a report carries a notification
type, an event and optional event parameters (e.g. the event an Idle event clears).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, register
from radios.zwave.schema import U8, Bitmask, Custom, Flag, MaskLength, Optional, Reader, Reserved

__all__ = [
    "AccessControlEvent",
    "HomeSecurityEvent",
    "NotificationCommand",
    "NotificationEvent",
    "NotificationEventSupportedGet",
    "NotificationEventSupportedReport",
    "NotificationGet",
    "NotificationReport",
    "NotificationSet",
    "NotificationSupportedGet",
    "NotificationSupportedReport",
    "NotificationType",
    "WaterEvent",
]


class NotificationCommand(IntEnum):
    """Notification CC commands."""

    EVENT_SUPPORTED_GET = 0x01
    EVENT_SUPPORTED_REPORT = 0x02
    GET = 0x04
    REPORT = 0x05
    SET = 0x06
    SUPPORTED_GET = 0x07
    SUPPORTED_REPORT = 0x08


class NotificationType(IntEnum):
    """Notification types this hub maps."""

    SMOKE = 0x01
    CO = 0x02
    WATER = 0x05
    ACCESS_CONTROL = 0x06
    HOME_SECURITY = 0x07


class NotificationEvent(IntEnum):
    """Events every notification type shares."""

    #: No pending notification; with an event parameter, the event that ended.
    IDLE = 0x00
    #: "Unknown event/state": a Get answer for a type with nothing pending (zwave-js reads it as idle).
    UNKNOWN = 0xFE


class AccessControlEvent(IntEnum):
    """Access Control (0x06) events."""

    IDLE = 0x00
    MANUAL_LOCK = 0x01
    MANUAL_UNLOCK = 0x02
    RF_LOCK = 0x03
    RF_UNLOCK = 0x04
    KEYPAD_LOCK = 0x05
    KEYPAD_UNLOCK = 0x06
    AUTO_LOCK = 0x09
    LOCK_JAMMED = 0x0B
    WINDOW_DOOR_OPEN = 0x16
    WINDOW_DOOR_CLOSED = 0x17


class HomeSecurityEvent(IntEnum):
    """Home Security (0x07) events."""

    IDLE = 0x00
    INTRUSION_LOCATION = 0x01
    INTRUSION = 0x02
    TAMPERING = 0x03
    MOTION_LOCATION = 0x07
    MOTION = 0x08


class WaterEvent(IntEnum):
    """Water Alarm (0x05) events."""

    IDLE = 0x00
    LEAK_LOCATION = 0x01
    LEAK = 0x02


# Bitmasks whose length byte comes first (MaskLength); bit 0 (type/event 0) is reserved.
_TYPES = Bitmask("types", 0, drop_zero=True)
_EVENTS = Bitmask("events", 0, drop_zero=True, min_bytes=0)


@register
@dataclass(frozen=True, slots=True)
class NotificationSupportedReport(CCCommand):
    """Supported Report: v1 alarm flag|bitmask length(5), bitmask of types (bit 0 = type 0, reserved)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SUPPORTED_REPORT
    types: tuple[int, ...]
    v1_alarm: bool = False

    schema = (MaskLength(_TYPES, Flag("v1_alarm", 0x80)), _TYPES)


@register
@dataclass(frozen=True, slots=True)
class NotificationSupportedGet(CCCommand):
    """Supported Get (v3): which notification types the node sends."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SUPPORTED_GET
    report = NotificationSupportedReport


@register
@dataclass(frozen=True, slots=True)
class NotificationEventSupportedReport(CCCommand):
    """Event Supported Report: type, bitmask length(5), bitmask of events (bit 0 = event 0)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.EVENT_SUPPORTED_REPORT
    notification_type: int
    events: tuple[int, ...]

    schema = (
        U8("notification_type"),
        MaskLength(_EVENTS),
        _EVENTS,
    )


@register
@dataclass(frozen=True, slots=True)
class NotificationEventSupportedGet(CCCommand):
    """Event Supported Get (v3): type."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.EVENT_SUPPORTED_GET
    notification_type: int

    schema = (U8("notification_type"),)
    report = NotificationEventSupportedReport
    matches = ("notification_type",)


def _read_params(r: Reader, values: dict[str, Any]) -> None:
    flags = r.byte("parameter length")
    values["params"] = r.take(flags & 0x1F, "event parameters")
    if flags & 0x80:
        values["sequence"] = r.byte("sequence number")


def _write_params(obj: Any, out: bytearray) -> None:
    check_byte(len(obj.params), "event parameter length", 0x1F)
    out.append((0x80 if obj.sequence is not None else 0) | len(obj.params))
    out += obj.params
    if obj.sequence is not None:
        check_byte(obj.sequence, "sequence number")
        out.append(obj.sequence)


@register
@dataclass(frozen=True, slots=True)
class NotificationReport(CCCommand):
    """Report: V1 type, V1 level [, 0, status, type, event, seq flag|param length(5), params [, seq]]."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.REPORT
    alarm_type: int = 0
    alarm_level: int = 0
    notification_type: int | None = None
    event: int | None = None
    status: int = 0xFF
    params: bytes = b""
    sequence: int | None = None

    schema = (
        U8("alarm_type"),
        U8("alarm_level"),
        Optional(
            Reserved(),
            U8("status"),
            U8("notification_type"),
            U8("event", none_as=0),
            Optional(Custom(_read_params, _write_params), key="notification_type", at_least=1),
            key="notification_type",
        ),
    )


@register
@dataclass(frozen=True, slots=True)
class NotificationGet(CCCommand):
    """Get: V1 alarm type [, notification type [, event (v3)]]."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.GET
    alarm_type: int = 0
    notification_type: int | None = None
    event: int | None = None

    schema = (U8("alarm_type"), Optional(U8("notification_type"), Optional(U8("event"))))
    report = NotificationReport

    def answered_by(self, report: CCCommand) -> bool:
        """A report of the asked type; 0xFF asks for "the first pending of any type" (v2)."""
        if not isinstance(report, NotificationReport):
            return False
        return self.notification_type is None or self.notification_type in (report.notification_type, 0xFF)


@register
@dataclass(frozen=True, slots=True)
class NotificationSet(CCCommand):
    """Set: type, status (0x00 off, 0xFF on) — turn a type's unsolicited reports off or on."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SET
    notification_type: int
    status: int

    schema = (U8("notification_type"), U8("status"))
