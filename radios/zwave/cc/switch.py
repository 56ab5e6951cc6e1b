"""Basic, Binary Switch and Multilevel Switch command classes (SDS13781).

Values on the wire: 0x00 off, 0x01-0x63 (1-99) a level, 0xFF on (in a Set: "restore the last level"),
0xFE unknown (reports only). Durations use the shared duration byte (base.encode_duration).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from radios.zwave.cc.base import CCCommand, CommandClass, register
from radios.zwave.schema import U8, Bits, Flag, Optional

__all__ = [
    "BasicCommand",
    "BasicGet",
    "BasicReport",
    "BasicSet",
    "BinarySwitchCommand",
    "BinarySwitchGet",
    "BinarySwitchReport",
    "BinarySwitchSet",
    "MultilevelSwitchCommand",
    "MultilevelSwitchGet",
    "MultilevelSwitchReport",
    "MultilevelSwitchSet",
    "MultilevelSwitchStartLevelChange",
    "MultilevelSwitchStopLevelChange",
    "SwitchValue",
]


class SwitchValue(IntEnum):
    """Special switch values."""

    OFF = 0x00
    MAX_LEVEL = 0x63
    UNKNOWN = 0xFE
    ON = 0xFF


class BasicCommand(IntEnum):
    """Basic CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03


class BinarySwitchCommand(IntEnum):
    """Binary Switch CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03


class MultilevelSwitchCommand(IntEnum):
    """Multilevel Switch CC commands."""

    SET = 0x01
    GET = 0x02
    REPORT = 0x03
    START_LEVEL_CHANGE = 0x04
    STOP_LEVEL_CHANGE = 0x05
    SUPPORTED_GET = 0x06
    SUPPORTED_REPORT = 0x07


@dataclass(frozen=True, slots=True)
class _ValueReport(CCCommand):
    """current value [, target value, duration] (v2+ fields optional)."""

    current: int
    target: int | None = None
    duration: int | None = None

    schema = (U8("current"), Optional(U8("target"), U8("duration", none_as=0xFE)))


@dataclass(frozen=True, slots=True)
class _ValueSet(CCCommand):
    """value [, duration] (duration only v2+)."""

    value: int
    duration: int | None = None

    schema = (U8("value"), Optional(U8("duration")))


@register
@dataclass(frozen=True, slots=True)
class BasicSet(CCCommand):
    """Basic Set: value (0x00 off, 1-99, 0xFF on); no duration field."""

    cc: ClassVar[int] = CommandClass.BASIC
    command: ClassVar[int] = BasicCommand.SET
    value: int

    schema = (U8("value"),)


@register
@dataclass(frozen=True, slots=True)
class BasicReport(_ValueReport):
    """Basic Report: current [, target, duration]."""

    cc: ClassVar[int] = CommandClass.BASIC
    command: ClassVar[int] = BasicCommand.REPORT


@register
@dataclass(frozen=True, slots=True)
class BasicGet(CCCommand):
    """Basic Get."""

    cc: ClassVar[int] = CommandClass.BASIC
    command: ClassVar[int] = BasicCommand.GET
    report = BasicReport


@register
@dataclass(frozen=True, slots=True)
class BinarySwitchSet(_ValueSet):
    """Binary Switch Set: 0x00 off / 0xFF on [, duration v2]."""

    cc: ClassVar[int] = CommandClass.BINARY_SWITCH
    command: ClassVar[int] = BinarySwitchCommand.SET

    def implied_report(self) -> CCCommand:
        """Carried out, the switch is at `value`."""
        return BinarySwitchReport(self.value)


@register
@dataclass(frozen=True, slots=True)
class BinarySwitchReport(_ValueReport):
    """Binary Switch Report: current [, target, duration v2]."""

    cc: ClassVar[int] = CommandClass.BINARY_SWITCH
    command: ClassVar[int] = BinarySwitchCommand.REPORT


@register
@dataclass(frozen=True, slots=True)
class BinarySwitchGet(CCCommand):
    """Binary Switch Get."""

    cc: ClassVar[int] = CommandClass.BINARY_SWITCH
    command: ClassVar[int] = BinarySwitchCommand.GET
    report = BinarySwitchReport


@register
@dataclass(frozen=True, slots=True)
class MultilevelSwitchSet(_ValueSet):
    """Multilevel Switch Set: level 0-99 or 0xFF (last level) [, duration v2]."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SWITCH
    command: ClassVar[int] = MultilevelSwitchCommand.SET

    def implied_report(self) -> CCCommand | None:
        """Carried out at once, the level is `value`; unknown for 0xFF (last level) or a transition."""
        if self.value == SwitchValue.ON or (self.duration not in (None, 0)):
            return None
        return MultilevelSwitchReport(self.value)


@register
@dataclass(frozen=True, slots=True)
class MultilevelSwitchReport(_ValueReport):
    """Multilevel Switch Report: current [, target, duration v4]."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SWITCH
    command: ClassVar[int] = MultilevelSwitchCommand.REPORT


@register
@dataclass(frozen=True, slots=True)
class MultilevelSwitchGet(CCCommand):
    """Multilevel Switch Get."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SWITCH
    command: ClassVar[int] = MultilevelSwitchCommand.GET
    report = MultilevelSwitchReport


@register
@dataclass(frozen=True, slots=True)
class MultilevelSwitchStartLevelChange(CCCommand):
    """Start Level Change: up/down and ignore-start-level flags, start level [, duration v2]."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SWITCH
    command: ClassVar[int] = MultilevelSwitchCommand.START_LEVEL_CHANGE
    down: bool
    ignore_start_level: bool = True
    start_level: int = 0
    duration: int | None = None

    schema = (
        Bits(Flag("down", 0x40), Flag("ignore_start_level", 0x20)),
        U8("start_level"),
        Optional(U8("duration")),
    )


@register
@dataclass(frozen=True, slots=True)
class MultilevelSwitchStopLevelChange(CCCommand):
    """Stop Level Change."""

    cc: ClassVar[int] = CommandClass.MULTILEVEL_SWITCH
    command: ClassVar[int] = MultilevelSwitchCommand.STOP_LEVEL_CHANGE
