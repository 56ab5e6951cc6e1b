"""Rules compiled to an index, and `decide()`: which rules an event fires. Pure and flat.

Rules of this file: `decide(index, state, event)` reads only its arguments (the event's own `ts` is
"now" for time conditions) and returns what should happen; it never sends, sleeps, logs or writes.
Its cost depends on the rules that watch the event's (device, attribute) or button, never on the
total number of rules: that is what the index is for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from hub_core.model import ButtonPressed, Device, HubEvent, StateChanged, Value
from local_rules.model import (
    AllCondition,
    AnyCondition,
    AtTrigger,
    ButtonTrigger,
    Condition,
    CronTrigger,
    HubStartTrigger,
    NotCondition,
    NumericCondition,
    NumericTrigger,
    Rule,
    StateCondition,
    StateTrigger,
    SunTrigger,
    TimeCondition,
    Trigger,
)
from local_rules.schedule import Place, in_window


class States(Protocol):
    """Where decide() reads current device state; the Hub is one."""

    def device(self, device_id: str) -> Device | None:
        """The device with this id, or None."""


@dataclass(frozen=True, slots=True)
class TimeReached:
    """A time trigger's moment has come (produced by the runner's scheduler)."""

    rule: str
    trigger: int
    ts: float


@dataclass(frozen=True, slots=True)
class HubStarted:
    """The agent has started (fires `hub_start` triggers)."""

    ts: float


Stimulus: TypeAlias = HubEvent | TimeReached | HubStarted


@dataclass(frozen=True, slots=True)
class Fire:
    """Run `rule`'s actions because of `trigger` (a readable label) at event time `ts`."""

    rule: Rule
    trigger: str
    ts: float


@dataclass(frozen=True, slots=True)
class Fault:
    """Evaluating `rule` raised; the other rules were still decided."""

    rule: str
    error: str


Decision: TypeAlias = Fire | Fault


@dataclass(frozen=True, slots=True)
class Entry:
    """One trigger of one rule, as the index stores it."""

    rule: Rule
    trigger: Trigger
    label: str
    #: The rule's conditions, each shared with equal conditions of other rules (see compile_rules).
    conditions: tuple[Condition, ...] = ()


@dataclass(slots=True)
class Index:
    """Rules by what wakes them; updated one rule at a time (`add`, `remove`) between events."""

    place: Place
    rules: dict[str, Rule] = field(default_factory=dict)
    by_attribute: dict[tuple[str, str], tuple[Entry, ...]] = field(default_factory=dict)
    by_button: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    timed: dict[tuple[str, int], Entry] = field(default_factory=dict)
    hub_start: tuple[Entry, ...] = ()
    #: Rules that are indexed but do not fire (enable/disable is a set update, not a recompile).
    disabled: set[str] = field(default_factory=set)
    #: Households repeat conditions ("after sunset", "nobody home"): one shared object per distinct
    #: condition keeps the memory an event touches small, so the cost stays flat as rules grow.
    shared: dict[Condition, Condition] = field(default_factory=dict)

    def add(self, rule: Rule) -> None:
        """Index `rule`, replacing any rule with its id; costs only that rule's triggers."""
        self.remove(rule.id)
        self.rules[rule.id] = rule
        if not rule.enabled:
            self.disabled.add(rule.id)
        conditions = tuple(self.shared.setdefault(c, c) for c in rule.conditions)
        for number, trigger in enumerate(rule.triggers):
            entry = Entry(rule, trigger, label(trigger), conditions)
            # Tuples are replaced, not mutated, so an iteration in progress never sees a change.
            if isinstance(trigger, StateTrigger | NumericTrigger):
                key = (trigger.device, trigger.attribute)
                self.by_attribute[key] = (*self.by_attribute.get(key, ()), entry)
            elif isinstance(trigger, ButtonTrigger):
                self.by_button[trigger.device] = (*self.by_button.get(trigger.device, ()), entry)
            elif isinstance(trigger, HubStartTrigger):
                self.hub_start = (*self.hub_start, entry)
            else:
                self.timed[(rule.id, number)] = entry

    def remove(self, rule_id: str) -> None:
        """Forget a rule; a no-op for an unknown id."""
        rule = self.rules.pop(rule_id, None)
        if rule is None:
            return
        self.disabled.discard(rule_id)
        for number, trigger in enumerate(rule.triggers):
            if isinstance(trigger, StateTrigger | NumericTrigger):
                _drop(self.by_attribute, (trigger.device, trigger.attribute), rule_id)
            elif isinstance(trigger, ButtonTrigger):
                _drop(self.by_button, trigger.device, rule_id)
            elif isinstance(trigger, HubStartTrigger):
                self.hub_start = tuple(e for e in self.hub_start if e.rule.id != rule_id)
            else:
                self.timed.pop((rule_id, number), None)


def _drop(table: dict[Any, tuple[Entry, ...]], key: Any, rule_id: str) -> None:
    kept = tuple(e for e in table.get(key, ()) if e.rule.id != rule_id)
    if kept:
        table[key] = kept
    else:
        table.pop(key, None)


def label(trigger: Trigger) -> str:
    """A short human description of a trigger, used in `rule_fired` events and logs."""
    if isinstance(trigger, StateTrigger):
        change = "".join(
            [
                f" from {trigger.from_}" if trigger.from_ is not None else "",
                f" to {trigger.to}" if trigger.to is not None else "",
            ]
        )
        return f"{trigger.device} {trigger.attribute}{change or ' changed'}"
    if isinstance(trigger, NumericTrigger):
        bounds = [
            f"above {trigger.above:g}" if trigger.above is not None else "",
            f"below {trigger.below:g}" if trigger.below is not None else "",
        ]
        return f"{trigger.device} {trigger.attribute} " + " and ".join(b for b in bounds if b)
    if isinstance(trigger, ButtonTrigger):
        which = f" {trigger.button}" if trigger.button is not None else ""
        return f"{trigger.device} button{which} {trigger.action or 'any'}"
    if isinstance(trigger, AtTrigger):
        return f"at {trigger.hour:02d}:{trigger.minute:02d}"
    if isinstance(trigger, SunTrigger):
        return (
            f"{trigger.event.value}{trigger.offset_minutes:+g} min"
            if trigger.offset_minutes
            else trigger.event.value
        )
    if isinstance(trigger, CronTrigger):
        return f"cron {trigger.expression}"
    return "hub_start"


def compile_rules(rules: Iterable[Rule], place: Place) -> Index:
    """Build the index of `rules`; disabled rules are indexed too (so enabling one is instant)."""
    index = Index(place)
    for rule in rules:
        index.add(rule)
    return index


# --- decide -----------------------------------------------------------------------------------


def _numeric(value: Value | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _in_range(value: float | None, above: float | None, below: float | None) -> bool:
    if value is None:
        return False
    return (above is None or value > above) and (below is None or value < below)


def trigger_matches(trigger: Trigger, event: HubEvent) -> bool:
    """Whether a device trigger fires for this event (state triggers fire on a change only)."""
    if isinstance(trigger, StateTrigger):
        if not isinstance(event, StateChanged) or event.value == event.previous:
            return False
        if trigger.to is not None and event.value != trigger.to:
            return False
        return trigger.from_ is None or event.previous == trigger.from_
    if isinstance(trigger, NumericTrigger):
        if not isinstance(event, StateChanged):
            return False
        # Crossing into the range fires; staying inside it does not (no storm from a chatty sensor).
        return _in_range(_numeric(event.value), trigger.above, trigger.below) and not _in_range(
            _numeric(event.previous), trigger.above, trigger.below
        )
    if isinstance(trigger, ButtonTrigger):
        return (
            isinstance(event, ButtonPressed)
            and (trigger.button is None or event.button == trigger.button)
            and (trigger.action is None or event.action == trigger.action)
        )
    return False


def _current(state: States, device: str, attribute: str) -> Value | None:
    found = state.device(device)
    return None if found is None else found.state.get(attribute)


def condition_holds(condition: Condition, state: States, ts: float, place: Place) -> bool:
    """Evaluate one condition against current state at local time `ts`."""
    if isinstance(condition, StateCondition):
        return _current(state, condition.device, condition.attribute) in condition.values
    if isinstance(condition, NumericCondition):
        value = _numeric(_current(state, condition.device, condition.attribute))
        return _in_range(value, condition.above, condition.below)
    if isinstance(condition, TimeCondition):
        return in_window(condition, ts, place)
    if isinstance(condition, AllCondition):
        return all(condition_holds(c, state, ts, place) for c in condition.conditions)
    if isinstance(condition, AnyCondition):
        return any(condition_holds(c, state, ts, place) for c in condition.conditions)
    if isinstance(condition, NotCondition):
        return not any(condition_holds(c, state, ts, place) for c in condition.conditions)
    return False


def _judge(entry: Entry, index: Index, state: States, ts: float, out: list[Decision]) -> None:
    rule = entry.rule
    if index.disabled and rule.id in index.disabled:
        return
    if out and any(d.rule is rule for d in out if isinstance(d, Fire)):
        return  # two triggers of one rule matched one event: it fires once
    try:
        for condition in entry.conditions:
            if not condition_holds(condition, state, ts, index.place):
                return
    except Exception as exc:  # one rule's bug must not cost the others their decision
        out.append(Fault(rule.id, f"condition failed: {exc!r}"))
        return
    out.append(Fire(rule, entry.label, ts))


def decide(index: Index, state: States, event: Stimulus) -> list[Decision]:
    """The rules this event fires (conditions checked at the event's time), in index order."""
    out: list[Decision] = []
    if isinstance(event, StateChanged):
        entries = index.by_attribute.get((event.device, event.attribute))
    elif isinstance(event, ButtonPressed):
        entries = index.by_button.get(event.device)
    elif isinstance(event, TimeReached):
        entry = index.timed.get((event.rule, event.trigger))
        if entry is not None:
            _judge(entry, index, state, event.ts, out)
        return out
    elif isinstance(event, HubStarted):
        for entry in index.hub_start:
            _judge(entry, index, state, event.ts, out)
        return out
    else:
        return out
    if entries:
        for entry in entries:
            try:
                matched = trigger_matches(entry.trigger, event)
            except Exception as exc:
                out.append(Fault(entry.rule.id, f"trigger failed: {exc!r}"))
                continue
            if matched:
                _judge(entry, index, state, event.ts, out)
    return out
