"""The typed rule model (CONTRACT section 6): what the parser produces and the compiler indexes.

Rules of this file: every type is a frozen dataclass; commands inside actions are already validated
`Command`s, so nothing downstream re-checks them on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from hub_core.model import Command, JSONObject, Value


class Mode(StrEnum):
    """What a trigger does while the rule is already running."""

    SINGLE = "single"  # ignore the new trigger
    RESTART = "restart"  # cancel the running actions and start again
    QUEUED = "queued"  # run after the current one, at most `max` waiting
    PARALLEL = "parallel"  # run alongside, at most `max` at once


class SunEvent(StrEnum):
    """The two sun events a trigger or time condition can name."""

    SUNRISE = "sunrise"
    SUNSET = "sunset"


# --- triggers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateTrigger:
    """An attribute changed, optionally from one value and/or to another."""

    device: str
    attribute: str
    to: Value | None = None
    from_: Value | None = None


@dataclass(frozen=True, slots=True)
class NumericTrigger:
    """A numeric attribute entered the range (above, below) from outside it."""

    device: str
    attribute: str
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class ButtonTrigger:
    """A button event, optionally for one button number and one action."""

    device: str
    button: int | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class AtTrigger:
    """Every day at HH:MM in the hub's time zone."""

    hour: int
    minute: int


@dataclass(frozen=True, slots=True)
class SunTrigger:
    """Every day at sunrise or sunset, shifted by `offset_minutes`."""

    event: SunEvent
    offset_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class CronTrigger:
    """Whenever the five-field cron expression matches, in the hub's time zone."""

    expression: str


@dataclass(frozen=True, slots=True)
class HubStartTrigger:
    """Once, when the agent starts."""


TimeTrigger: TypeAlias = AtTrigger | SunTrigger | CronTrigger
Trigger: TypeAlias = StateTrigger | NumericTrigger | ButtonTrigger | TimeTrigger | HubStartTrigger


# --- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateCondition:
    """The attribute currently has one of `values`."""

    device: str
    attribute: str
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class NumericCondition:
    """The numeric attribute is currently above `above` and below `below`."""

    device: str
    attribute: str
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class TimePoint:
    """A time of day: a clock time (minutes after midnight) or a sun event with an offset."""

    minutes: int | None = None
    sun: SunEvent | None = None
    offset_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class TimeCondition:
    """The local time of day is in [after, before); the window may wrap midnight."""

    after: TimePoint | None = None
    before: TimePoint | None = None
    weekdays: frozenset[int] = frozenset(range(7))  # Monday = 0


@dataclass(frozen=True, slots=True)
class AllCondition:
    """Every sub-condition holds."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyCondition:
    """At least one sub-condition holds."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotCondition:
    """None of the sub-conditions holds."""

    conditions: tuple[Condition, ...]


Condition: TypeAlias = (
    StateCondition | NumericCondition | TimeCondition | AllCondition | AnyCondition | NotCondition
)


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandAction:
    """Send one command and wait for the radio's confirmation."""

    command: Command


@dataclass(frozen=True, slots=True)
class DelayAction:
    """Wait `seconds`; persisted as an absolute due time, so it survives a restart."""

    seconds: float


class OnTimeout(StrEnum):
    """What a `wait` does when its timeout passes."""

    STOP = "stop"
    CONTINUE = "continue"


@dataclass(frozen=True, slots=True)
class WaitAction:
    """Wait until an attribute has one of `values`, at most `timeout_seconds`."""

    device: str
    attribute: str
    values: tuple[Value, ...]
    timeout_seconds: float
    on_timeout: OnTimeout = OnTimeout.STOP


@dataclass(frozen=True, slots=True)
class SceneAction:
    """Send several commands together (concurrently, grouped per radio when it can)."""

    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class EnableRuleAction:
    """Enable (`enable=True`) or disable another rule, or this one."""

    rule: str
    enable: bool


@dataclass(frozen=True, slots=True)
class NotifyAction:
    """Send a message to the household through the cloud."""

    message: str


Action: TypeAlias = CommandAction | DelayAction | WaitAction | SceneAction | EnableRuleAction | NotifyAction


# --- the rule ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule; `source` is its JSON as stored and returned by the API."""

    id: str
    enabled: bool
    mode: Mode
    max_runs: int
    triggers: tuple[Trigger, ...]
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    source: JSONObject = field(compare=False, hash=False, repr=False)
    #: A digest of the actions: a pending delay stored by one version resumes only in the same one.
    digest: str = field(default="", compare=False)

    @property
    def devices(self) -> frozenset[str]:
        """Every device id the rule refers to."""
        found: set[str] = set()
        for trigger in self.triggers:
            if isinstance(trigger, StateTrigger | NumericTrigger | ButtonTrigger):
                found.add(trigger.device)
        stack: list[Condition] = list(self.conditions)
        while stack:
            condition = stack.pop()
            if isinstance(condition, StateCondition | NumericCondition):
                found.add(condition.device)
            elif isinstance(condition, AllCondition | AnyCondition | NotCondition):
                stack.extend(condition.conditions)
        for action in self.actions:
            if isinstance(action, CommandAction):
                found.add(action.command.device)
            elif isinstance(action, SceneAction):
                found.update(c.device for c in action.commands)
            elif isinstance(action, WaitAction):
                found.add(action.device)
        return frozenset(found)
