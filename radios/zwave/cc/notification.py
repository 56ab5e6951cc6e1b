"""Notification command class (formerly Alarm; SDS13781 Notification CC v1-v8).

A v1 device sends only the "V1 alarm" type and level; from v2 on a report carries a notification
type, an event and optional event parameters (e.g. the event an Idle event clears).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from radios.zwave.cc.base import (
    CCCommand,
    CommandClass,
    check_byte,
    encode_bitmask,
    need,
    parse_bitmask,
    register,
)

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


@register
@dataclass(frozen=True, slots=True)
class NotificationSupportedGet(CCCommand):
    """Notification Supported Get (v2)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SUPPORTED_GET


@register
@dataclass(frozen=True, slots=True)
class NotificationSupportedReport(CCCommand):
    """Supported Report: V1 alarm flag|mask length(5), type bitmask (bit 0 of byte 0 = type 0, unused)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SUPPORTED_REPORT
    types: tuple[int, ...]
    v1_alarm: bool = False

    def to_payload(self) -> bytes:
        mask = encode_bitmask(self.types, 0)
        check_byte(len(mask), "bitmask length", 0x1F)
        return bytes(((0x80 if self.v1_alarm else 0) | len(mask),)) + mask

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        length = payload[0] & 0x1F
        need(payload, 1 + length, cls.__name__)
        types = tuple(t for t in parse_bitmask(payload[1 : 1 + length], 0) if t != 0)
        return cls(types, bool(payload[0] & 0x80))


@register
@dataclass(frozen=True, slots=True)
class NotificationEventSupportedGet(CCCommand):
    """Event Supported Get (v3): notification type."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.EVENT_SUPPORTED_GET
    notification_type: int

    def to_payload(self) -> bytes:
        check_byte(self.notification_type, "notification type")
        return bytes((self.notification_type,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(payload[0])


@register
@dataclass(frozen=True, slots=True)
class NotificationEventSupportedReport(CCCommand):
    """Event Supported Report: type, mask length(5), event bitmask (bit 0 = event 0, unused)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.EVENT_SUPPORTED_REPORT
    notification_type: int
    events: tuple[int, ...]

    def to_payload(self) -> bytes:
        check_byte(self.notification_type, "notification type")
        mask = encode_bitmask(self.events, 0, 0) if self.events else b""
        check_byte(len(mask), "bitmask length", 0x1F)
        return bytes((self.notification_type, len(mask))) + mask

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        length = payload[1] & 0x1F
        need(payload, 2 + length, cls.__name__)
        events = tuple(e for e in parse_bitmask(payload[2 : 2 + length], 0) if e != 0)
        return cls(payload[0], events)


@register
@dataclass(frozen=True, slots=True)
class NotificationGet(CCCommand):
    """Notification Get: V1 alarm type [, notification type (v2) [, event (v3)]]."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.GET
    alarm_type: int = 0
    notification_type: int | None = None
    event: int | None = None

    def to_payload(self) -> bytes:
        out = bytes((self.alarm_type,))
        if self.notification_type is not None:
            check_byte(self.notification_type, "notification type")
            out += bytes((self.notification_type,))
            if self.event is not None:
                check_byte(self.event, "event")
                out += bytes((self.event,))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(
            payload[0],
            payload[1] if len(payload) >= 2 else None,
            payload[2] if len(payload) >= 3 else None,
        )


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

    def to_payload(self) -> bytes:
        check_byte(self.alarm_type, "alarm type")
        check_byte(self.alarm_level, "alarm level")
        out = bytes((self.alarm_type, self.alarm_level))
        if self.notification_type is None:
            return out
        check_byte(self.notification_type, "notification type")
        check_byte(self.event or 0, "event")
        check_byte(self.status, "status")
        check_byte(len(self.params), "event parameter length", 0x1F)
        flags = (0x80 if self.sequence is not None else 0) | len(self.params)
        out += bytes((0, self.status, self.notification_type, self.event or 0, flags)) + self.params
        if self.sequence is not None:
            check_byte(self.sequence, "sequence number")
            out += bytes((self.sequence,))
        return out

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        if len(payload) < 6:
            return cls(payload[0], payload[1])
        params = b""
        sequence = None
        if len(payload) >= 7:
            length = payload[6] & 0x1F
            need(payload, 7 + length, f"{cls.__name__} event parameters")
            params = payload[7 : 7 + length]
            if payload[6] & 0x80:
                need(payload, 8 + length, f"{cls.__name__} sequence number")
                sequence = payload[7 + length]
        return cls(payload[0], payload[1], payload[4], payload[5], payload[3], params, sequence)


@register
@dataclass(frozen=True, slots=True)
class NotificationSet(CCCommand):
    """Notification Set: type, status (0x00 off / 0xFF on)."""

    cc: ClassVar[int] = CommandClass.NOTIFICATION
    command: ClassVar[int] = NotificationCommand.SET
    notification_type: int
    status: int

    def to_payload(self) -> bytes:
        check_byte(self.notification_type, "notification type")
        check_byte(self.status, "status")
        return bytes((self.notification_type, self.status))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 2, cls.__name__)
        return cls(payload[0], payload[1])
