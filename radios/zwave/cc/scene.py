"""Central Scene command class (SDS13781 Central Scene CC v1-v3): buttons and their key attributes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from radios.zwave.cc.base import CCCommand, CommandClass, check_byte, encode_bitmask, parse_bitmask, register
from radios.zwave.schema import U8, Bits, Custom, Flag, Part, Reader

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


def _read_key_masks(r: Reader, values: dict[str, Any]) -> None:
    count = values["scene_count"]
    if not r.remaining:
        return
    flags = r.byte("flags")
    width = (flags >> 1) & 0b11
    if width == 0:  # a v2 report without key attribute masks: nothing more to learn
        return
    identical = bool(flags & 1)
    entries = 1 if identical else count
    if entries == 0:
        return
    data = r.take(width * entries, "key attribute bitmasks")
    values["key_attributes"] = tuple(
        parse_bitmask(data[i * width : (i + 1) * width], 0) for i in range(entries)
    )
    values["identical"], values["slow_refresh"] = identical, bool(flags & 0x80)


def _write_key_masks(obj: Any, out: bytearray) -> None:
    if not obj.key_attributes:
        return
    masks = [encode_bitmask(keys, 0) for keys in obj.key_attributes]
    width = max(len(m) for m in masks)
    check_byte(width, "key attribute bitmask bytes", 3)
    out.append((0x80 if obj.slow_refresh else 0) | width << 1 | (1 if obj.identical else 0))
    out += b"".join(m.ljust(width, b"\x00") for m in masks)


@register
@dataclass(frozen=True, slots=True)
class CentralSceneSupportedReport(CCCommand):
    """Supported Report: scene count [, slow refresh|width(2)|identical, key attribute masks (v2)]."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.SUPPORTED_REPORT
    scene_count: int
    #: Per scene (or one entry when `identical`): the supported KeyAttribute values; empty in v1.
    key_attributes: tuple[tuple[int, ...], ...] = ()
    identical: bool = False
    slow_refresh: bool = False

    schema = (U8("scene_count"), Custom(_read_key_masks, _write_key_masks))

    def keys_of(self, scene: int) -> tuple[int, ...]:
        """Supported key attributes of a scene (1-based); all of v1's three when unknown."""
        if not self.key_attributes:
            return (KeyAttribute.PRESSED_1X, KeyAttribute.RELEASED, KeyAttribute.HELD_DOWN)
        index = 0 if self.identical else scene - 1
        return self.key_attributes[index] if 0 <= index < len(self.key_attributes) else ()


@register
@dataclass(frozen=True, slots=True)
class CentralSceneSupportedGet(CCCommand):
    """Supported Get."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.SUPPORTED_GET
    report = CentralSceneSupportedReport


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

    schema = (U8("sequence"), Bits(Flag("slow_refresh", 0x80), Part("key_attribute", 0, 3)), U8("scene"))


@register
@dataclass(frozen=True, slots=True)
class CentralSceneConfigurationSet(CCCommand):
    """Configuration Set (v3): slow refresh flag."""

    cc: ClassVar[int] = CommandClass.CENTRAL_SCENE
    command: ClassVar[int] = CentralSceneCommand.CONFIGURATION_SET
    slow_refresh: bool

    schema = (Bits(Flag("slow_refresh", 0x80)),)
