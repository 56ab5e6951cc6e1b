"""The compiler's trigger labels (issue 19): each kind of trigger reads as the rule_fired event shows it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hub_core.model import ButtonPressed, Device, DeviceId, HubEvent, StateChanged, Value
from hubtest.rules_world import device
from local_rules.compiler import (
    Fault,
    Fire,
    HubStarted,
    Index,
    Stimulus,
    TimeReached,
    compile_rules,
    condition_holds,
    decide,
    label,
    trigger_matches,
)
from local_rules.model import Rule
from local_rules.parser import parse_rule
from local_rules.schedule import Place

DEVICES: dict[str, Device] = {
    str(d.id): d for d in (device("zwave-2", "switch", "level", "button", switch="off"),)
}


def _trigger(trigger: dict[str, Any]) -> Any:
    rule = parse_rule(
        {
            "id": "r",
            "triggers": [trigger],
            "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
        },
        DEVICES.get,
    )
    return rule.triggers[0]


@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        ({"type": "state", "device": "zwave-2", "attribute": "switch"}, "zwave-2 switch changed"),
        (
            {"type": "state", "device": "zwave-2", "attribute": "switch", "from": "off", "to": "on"},
            "zwave-2 switch from off to on",
        ),
        (
            {"type": "numeric", "device": "zwave-2", "attribute": "level", "above": 20, "below": 80.5},
            "zwave-2 level above 20 and below 80.5",
        ),
        (
            {"type": "numeric", "device": "zwave-2", "attribute": "level", "below": 50},
            "zwave-2 level below 50",
        ),
        ({"type": "button", "device": "zwave-2"}, "zwave-2 button any"),
        ({"type": "button", "device": "zwave-2", "button": 1, "action": "double"}, "zwave-2 button 1 double"),
        ({"type": "time", "at": "07:05"}, "at 07:05"),
        ({"type": "time", "sun": "sunset"}, "sunset"),
        ({"type": "time", "sun": "sunrise", "offset_minutes": -15}, "sunrise-15 min"),
        ({"type": "time", "cron": "*/5 * * * 1-5"}, "cron */5 * * * 1-5"),
        ({"type": "hub_start"}, "hub_start"),
    ],
)
def test_each_trigger_kind_has_its_label(trigger: dict[str, Any], text: str) -> None:
    assert label(_trigger(trigger)) == text


# --- removing and replacing rules (issue 19) --------------------------------------------------

MOTION = "zigbee-00158d0001a2b3c4"
BUTTON = "ble-a4c138000001"
THERMO = "zwave-5"
HOUSE: dict[str, Device] = {
    str(d.id): d
    for d in (
        device(MOTION, "motion", motion="inactive"),
        device(BUTTON, "button"),
        device(THERMO, "temperature", temperature=20.0),
        device("zwave-2", "switch", switch="off"),
    )
}
NOON = 1_790_000_000.0 - (1_790_000_000 % 86400) + 12 * 3600
EVERY_KIND: list[dict[str, Any]] = [
    {"type": "state", "device": MOTION, "attribute": "motion", "to": "active"},
    {"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 25},
    {"type": "button", "device": BUTTON},
    {"type": "time", "at": "07:00"},
    {"type": "hub_start"},
    {"type": "time", "cron": "0 * * * *"},
]


class _House:
    """Current state for decide(): the devices above, as they are."""

    def device(self, device_id: str) -> Device | None:
        return HOUSE.get(device_id)


def _source(rule_id: str, triggers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": rule_id,
        "triggers": triggers,
        "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
    }


def _rule(rule_id: str, triggers: list[dict[str, Any]]) -> Rule:
    return parse_rule(_source(rule_id, triggers), HOUSE.get)


def _known(device_id: str) -> Device | None:
    """HOUSE, plus a thermometer the parser knows but the hub has lost (zwave-9)."""
    if device_id == "zwave-9":
        return device("zwave-9", "temperature")
    return HOUSE.get(device_id)


def _fired(index: Index, stimulus: Stimulus) -> list[str]:
    return [d.rule.id for d in decide(index, _House(), stimulus) if isinstance(d, Fire)]


def _every_stimulus(rule_id: str) -> dict[str, Stimulus]:
    """One stimulus per entry of EVERY_KIND, each of which fires a rule with that trigger."""
    return {
        "state": StateChanged(DeviceId(MOTION), "motion", "active", NOON, "inactive"),
        "numeric": StateChanged(DeviceId(THERMO), "temperature", 26.0, NOON, 20.0),
        "button": ButtonPressed(DeviceId(BUTTON), 1, "pressed", NOON),
        "at": TimeReached(rule_id, 3, NOON),
        "hub_start": HubStarted(NOON),
        "cron": TimeReached(rule_id, 5, NOON),
    }


def test_a_removed_rule_no_longer_fires_for_any_kind_of_trigger() -> None:
    index = compile_rules([_rule("gone", EVERY_KIND), _rule("stays", EVERY_KIND)], Place("UTC"))
    for stimulus in _every_stimulus("gone").values():
        assert "gone" in _fired(index, stimulus)
    index.remove("gone")
    for kind, stimulus in _every_stimulus("gone").items():
        assert "gone" not in _fired(index, stimulus), kind
    # The other rule on the same device, button and start-up keys still fires for each of them.
    for kind, stimulus in _every_stimulus("stays").items():
        assert _fired(index, stimulus) == ["stays"], kind
    index.remove("gone")  # a second removal is a no-op
    assert _fired(index, HubStarted(NOON)) == ["stays"]


def test_replacing_a_rule_drops_the_triggers_it_no_longer_has() -> None:
    index = compile_rules([_rule("r", EVERY_KIND)], Place("UTC"))
    index.add(_rule("r", [{"type": "time", "at": "08:00"}]))
    stimuli = _every_stimulus("r")
    assert {kind for kind, stimulus in stimuli.items() if _fired(index, stimulus)} == set()
    assert _fired(index, TimeReached("r", 0, NOON)) == ["r"]


def test_removing_every_rule_leaves_an_empty_index() -> None:
    """Adding and removing rules does not leave empty per-device tables behind (memory stays bounded)."""
    index = compile_rules([], Place("UTC"))
    for i in range(50):
        index.add(_rule(f"r{i}", EVERY_KIND))
    for i in range(50):
        index.remove(f"r{i}")
    assert (index.rules, index.by_attribute, index.by_button, index.timed, index.hub_start) == (
        {},
        {},
        {},
        {},
        (),
    )


def test_a_disabled_rule_does_not_hold_back_the_others() -> None:
    index = compile_rules(
        [_rule("off", EVERY_KIND[:1]), _rule("on", EVERY_KIND[:1]), _rule("boot", EVERY_KIND[4:5])],
        Place("UTC"),
    )
    index.disabled.add("off")
    assert _fired(index, _every_stimulus("on")["state"]) == ["on"]
    assert _fired(index, HubStarted(NOON)) == ["boot"]


# --- trigger_matches answers True or False for every pairing (issue 19) ------------------------

_STATE = StateChanged(DeviceId(MOTION), "motion", "active", NOON, "inactive")
_SAME = StateChanged(DeviceId(MOTION), "motion", "active", NOON, "active")
_PRESS = ButtonPressed(DeviceId(BUTTON), 1, "pressed", NOON)
_WARM = StateChanged(DeviceId(THERMO), "temperature", 26.0, NOON, 20.0)


@pytest.mark.parametrize(
    ("trigger", "event", "expected"),
    [
        ({"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}, _STATE, True),
        ({"type": "state", "device": MOTION, "attribute": "motion", "to": "inactive"}, _STATE, False),
        ({"type": "state", "device": MOTION, "attribute": "motion", "from": "active"}, _STATE, False),
        ({"type": "state", "device": MOTION, "attribute": "motion"}, _SAME, False),
        ({"type": "state", "device": MOTION, "attribute": "motion"}, _PRESS, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 25}, _WARM, True),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 25}, _PRESS, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 30}, _WARM, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "below": 26}, _WARM, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "below": 26.5}, _WARM, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 26}, _WARM, False),
        (
            {"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 21, "below": 27},
            _WARM,
            True,
        ),
        ({"type": "button", "device": BUTTON, "button": 1}, _PRESS, True),
        ({"type": "button", "device": BUTTON, "button": 2}, _PRESS, False),
        ({"type": "button", "device": BUTTON}, _STATE, False),
        ({"type": "time", "at": "07:00"}, _STATE, False),
        ({"type": "time", "at": "07:00"}, _PRESS, False),
        ({"type": "hub_start"}, _STATE, False),
    ],
)
def test_trigger_matches_is_a_plain_bool(trigger: dict[str, Any], event: HubEvent, expected: bool) -> None:
    assert trigger_matches(_rule("r", [trigger]).triggers[0], event) is expected


@pytest.mark.parametrize("value", [True, False, "unavailable", None])
def test_a_numeric_trigger_ignores_values_that_are_not_numbers(value: Value) -> None:
    """A bool is not 1.0 and a string is not a reading: neither enters a range, and neither is a fault."""
    index = compile_rules(
        [_rule("r", [{"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 0.5}])],
        Place("UTC"),
    )
    event = StateChanged(DeviceId(THERMO), "temperature", value, NOON, 0.0)
    assert decide(index, _House(), event) == []
    # The same trigger with a reading from a non-number into the range does fire.
    assert _fired(index, StateChanged(DeviceId(THERMO), "temperature", 1.0, NOON, value)) == ["r"]


def test_stimuli_and_decisions_are_immutable_values() -> None:
    rule = _rule("r", [{"type": "hub_start"}])
    stimuli: list[Any] = [TimeReached("r", 0, NOON), HubStarted(NOON)]
    assert len(set(stimuli)) == 2  # hashable: usable as keys and in sets
    for value in [*stimuli, Fire(rule, "hub_start", NOON)]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.ts = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        Fault("r", "condition failed").error = ""  # type: ignore[misc]
    index = compile_rules([rule], Place("UTC"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.hub_start[0].label = ""  # type: ignore[misc]


def test_replacing_a_disabled_rule_with_an_enabled_one_enables_it() -> None:
    index = compile_rules([], Place("UTC"))
    index.add(parse_rule({**_source("r", [{"type": "hub_start"}]), "enabled": False}, HOUSE.get))
    assert _fired(index, HubStarted(NOON)) == []
    index.add(_rule("r", [{"type": "hub_start"}]))
    assert _fired(index, HubStarted(NOON)) == ["r"]
    index.remove("r")
    index.add(_rule("r", [{"type": "hub_start"}]))  # removed while disabled, then added back enabled
    assert _fired(index, HubStarted(NOON)) == ["r"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"type": "state", "device": MOTION, "attribute": "motion", "value": "inactive"}, True),
        ({"type": "state", "device": MOTION, "attribute": "motion", "value": "active"}, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "below": 20}, False),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "below": 20.5}, True),
        ({"type": "numeric", "device": THERMO, "attribute": "temperature", "above": 20}, False),
        ({"type": "numeric", "device": "zwave-9", "attribute": "temperature", "above": 0}, False),
        ({"type": "time", "after": "11:00", "before": "13:00"}, True),
        ({"type": "time", "after": "13:00", "before": "14:00"}, False),
        ({"type": "all", "conditions": [{"type": "time", "after": "11:00", "before": "13:00"}]}, True),
        ({"type": "any", "conditions": [{"type": "time", "after": "13:00", "before": "14:00"}]}, False),
        ({"type": "not", "conditions": [{"type": "time", "after": "13:00", "before": "14:00"}]}, True),
    ],
)
def test_condition_holds_is_a_plain_bool(condition: dict[str, Any], expected: bool) -> None:
    """Conditions read current state (a missing device has no value) at the event's local time."""
    [parsed] = parse_rule(
        {**_source("r", [{"type": "hub_start"}]), "conditions": [condition]}, _known
    ).conditions
    assert condition_holds(parsed, _House(), NOON, Place("UTC")) is expected
