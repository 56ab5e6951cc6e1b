"""Central Scene command class (SDS13781 Central Scene CC v1-v3): buttons and their key attributes."""

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
    "CentralSceneCommand",
    "CentralSceneConfigurationSet",
    "CentralSceneNotification",
    "CentralSceneSupportedGet",
    "CentralSceneSupportedReport",
    "KeyAttribute",
]


class CentralSceneCommand(IntEnum):
    """Central Scene CC commands."""

    SUPPORTED_GET = 0x01
    SUPPORTED_REPORT = 0x02
    NOTIFICATION = 0x03
    CONFIGURATION_SET = 0x04
    CONFIGURATION_GET = 0x05
    CONFIGURATION_REPORT = 0x06


class KeyAttribute(IntEnum):
    """What happened to the key."""

    PRESSED_1X = 0
    RELEASED = 1
    HELD_DOWN = 2
    PRESSED_2X = 3
    PRESSED_3X = 4
    PRESSED_4X = 5
    PRESSED_5X = 6


@register
@dataclass(frozen=True, slots=True)
class CentralSceneSupportedGet(CCCommand):
    """Supported Get."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.SUPPORTED_GET


@register
@dataclass(frozen=True, slots=True)
class CentralSceneSupportedReport(CCCommand):
    """Supported Report: scene count [, slow refresh|mask bytes<<1|identical, key attribute masks]."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.SUPPORTED_REPORT
    scene_count: int
    #: Per scene (or one entry when `identical`): the supported KeyAttribute values; empty in v1.
    key_attributes: tuple[tuple[int, ...], ...] = ()
    identical: bool = False
    slow_refresh: bool = False

    def keys_of(self, scene: int) -> tuple[int, ...]:
        """Supported key attributes of a scene (1-based); all of v1's three when unknown."""
        if not self.key_attributes:
            return (KeyAttribute.PRESSED_1X, KeyAttribute.RELEASED, KeyAttribute.HELD_DOWN)
        index = 0 if self.identical else scene - 1
        return self.key_attributes[index] if 0 <= index < len(self.key_attributes) else ()

    def to_payload(self) -> bytes:
        check_byte(self.scene_count, "scene count")
        if not self.key_attributes:
            return bytes((self.scene_count,))
        masks = [encode_bitmask(keys, 0) for keys in self.key_attributes]
        width = max(len(m) for m in masks)
        check_byte(width, "key attribute bitmask bytes", 3)
        flags = (0x80 if self.slow_refresh else 0) | width << 1 | (1 if self.identical else 0)
        return bytes((self.scene_count, flags)) + b"".join(m.ljust(width, b"\x00") for m in masks)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        width = (payload[1] >> 1) & 0b11 if len(payload) >= 2 else 0
        if width == 0:  # v1, or a v2 report without key attribute masks: nothing more to learn
            return cls(payload[0])
        identical = bool(payload[1] & 1)
        entries = 1 if identical else payload[0]
        if entries == 0:
            return cls(payload[0])
        need(payload, 2 + width * entries, cls.__name__)
        keys = tuple(parse_bitmask(payload[2 + i * width : 2 + (i + 1) * width], 0) for i in range(entries))
        return cls(payload[0], keys, identical, bool(payload[1] & 0x80))


@register
@dataclass(frozen=True, slots=True)
class CentralSceneNotification(CCCommand):
    """Notification: sequence number, slow refresh|key attribute(3), scene number."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.NOTIFICATION
    sequence: int
    key_attribute: int
    scene: int
    slow_refresh: bool = False

    def to_payload(self) -> bytes:
        check_byte(self.sequence, "sequence number")
        check_byte(self.key_attribute, "key attribute", 7)
        check_byte(self.scene, "scene number")
        return bytes((self.sequence, (0x80 if self.slow_refresh else 0) | self.key_attribute, self.scene))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 3, cls.__name__)
        return cls(payload[0], payload[1] & 0b111, payload[2], bool(payload[1] & 0x80))


@register
@dataclass(frozen=True, slots=True)
class CentralSceneConfigurationSet(CCCommand):
    """Configuration Set (v3): slow refresh flag."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.CONFIGURATION_SET
    slow_refresh: bool

    def to_payload(self) -> bytes:
        return bytes((0x80 if self.slow_refresh else 0,))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        need(payload, 1, cls.__name__)
        return cls(bool(payload[0] & 0x80))
