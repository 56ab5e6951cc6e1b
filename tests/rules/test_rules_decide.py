"""Compiler and decide() tests: pure, and flat in the number of rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.model import ButtonPressed, Device, DeviceId, Notification, StateChanged, Value
from hubtest.rules_world import device
from local_rules.compiler import Fault, Fire, HubStarted, TimeReached, compile_rules, decide
from local_rules.model import Rule
from local_rules.parser import parse_rule
from local_rules.schedule import Place

MOTION = "zigbee-00158d0001a2b3c4"
BUTTON = "ble-a4c138000001"
DEVICES = {
    d.id: d
    for d in (
        device(MOTION, "motion", "illuminance", motion="inactive", illuminance=5),
        device("zwave-2", "switch", "level", switch="off", level=0),
        device("zwave-5", "temperature", temperature=20.0),
        device(BUTTON, "button"),
    )
}
UTC = Place("UTC")
NOON = 1_790_000_000.0 - (1_790_000_000 % 86400) + 12 * 3600  # 12:00 UTC


class States:
    """A registry stand-in for pure decide() tests: devices and their state, counting lookups."""

    def __init__(self, devices: dict[Any, Device], **overrides: dict[str, Value]) -> None:
        self.devices = {
            k: Device(
                v.id,
                v.protocol,
                v.name,
                capabilities=v.capabilities,
                state={**v.state, **overrides.get(k.replace("-", "_"), {})},
            )
            for k, v in devices.items()
        }
        self.lookups = 0

    def device(self, device_id: str) -> Device | None:
        self.lookups += 1
        return self.devices.get(device_id)


def rule(rule_id: str, triggers: list[Any], conditions: list[Any] | None = None, **extra: Any) -> Rule:
    return parse_rule(
        {
            "id": rule_id,
            "triggers": triggers,
            "conditions": conditions or [],
            "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
            **extra,
        },
        DEVICES.get,  # type: ignore[arg-type]
    )


def state(
    device_id: str, attribute: str, value: Value, previous: Value | None, ts: float = NOON
) -> StateChanged:
    return StateChanged(DeviceId(device_id), attribute, value, ts, previous)


def fired(decisions: list[Any]) -> list[str]:
    return [d.rule.id for d in decisions if isinstance(d, Fire)]


MOTION_ON = {"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}


def test_state_trigger_fires_on_change_to_the_value_only() -> None:
    index = compile_rules([rule("r", [MOTION_ON])], UTC)
    states = States(DEVICES)
    assert fired(decide(index, states, state(MOTION, "motion", "active", "inactive"))) == ["r"]
    assert fired(decide(index, states, state(MOTION, "motion", "active", "active"))) == []  # a re-report
    assert fired(decide(index, states, state(MOTION, "motion", "inactive", "active"))) == []
    decision = decide(index, states, state(MOTION, "motion", "active", None))[0]
    assert (
        isinstance(decision, Fire)
        and decision.trigger == f"{MOTION} motion to active"
        and decision.ts == NOON
    )


def test_state_trigger_from_and_any_change() -> None:
    index = compile_rules(
        [
            rule("from-on", [{"type": "state", "device": "zwave-2", "attribute": "switch", "from": "on"}]),
            rule("any", [{"type": "state", "device": "zwave-2", "attribute": "switch"}]),
        ],
        UTC,
    )
    states = States(DEVICES)
    assert fired(decide(index, states, state("zwave-2", "switch", "off", "on"))) == ["from-on", "any"]
    assert fired(decide(index, states, state("zwave-2", "switch", "on", "off"))) == ["any"]


def test_numeric_trigger_fires_when_crossing_into_the_range() -> None:
    index = compile_rules(
        [
            rule(
                "warm",
                [
                    {
                        "type": "numeric",
                        "device": "zwave-5",
                        "attribute": "temperature",
                        "above": 24,
                        "below": 40,
                    }
                ],
            )
        ],
        UTC,
    )
    states = States(DEVICES)
    assert fired(decide(index, states, state("zwave-5", "temperature", 25.0, 23.0))) == ["warm"]
    assert fired(decide(index, states, state("zwave-5", "temperature", 26.0, 25.0))) == []  # still inside
    assert fired(decide(index, states, state("zwave-5", "temperature", 24.0, 23.0))) == []  # not above
    assert fired(decide(index, states, state("zwave-5", "temperature", 45.0, 23.0))) == []  # beyond below
    assert fired(decide(index, states, state("zwave-5", "temperature", 30.0, None))) == ["warm"]


def test_button_trigger_matches_button_and_action() -> None:
    index = compile_rules(
        [
            rule("one-pressed", [{"type": "button", "device": BUTTON, "button": 1, "action": "pressed"}]),
            rule("any", [{"type": "button", "device": BUTTON}]),
        ],
        UTC,
    )
    states = States(DEVICES)
    assert fired(decide(index, states, ButtonPressed(DeviceId(BUTTON), 1, "pressed", NOON))) == [
        "one-pressed",
        "any",
    ]
    assert fired(decide(index, states, ButtonPressed(DeviceId(BUTTON), 2, "pressed", NOON))) == ["any"]
    assert fired(decide(index, states, ButtonPressed(DeviceId(BUTTON), 1, "held", NOON))) == ["any"]


def test_conditions_read_current_state_and_the_events_time() -> None:
    dark = {"type": "numeric", "device": MOTION, "attribute": "illuminance", "below": 10}
    lamp_off = {"type": "state", "device": "zwave-2", "attribute": "switch", "value": "off"}
    night = {"type": "time", "after": "22:00", "before": "06:00"}
    index = compile_rules(
        [
            rule("dark", [MOTION_ON], [dark, lamp_off]),
            rule("night", [MOTION_ON], [night]),
            rule("any", [MOTION_ON], [{"type": "any", "conditions": [night, lamp_off]}]),
            rule("not", [MOTION_ON], [{"type": "not", "conditions": [night]}]),
            rule("all", [MOTION_ON], [{"type": "all", "conditions": [night, lamp_off]}]),
        ],
        UTC,
    )
    event = state(MOTION, "motion", "active", "inactive")
    assert fired(decide(index, States(DEVICES), event)) == ["dark", "any", "not"]
    bright = States(DEVICES, zigbee_00158d0001a2b3c4={"illuminance": 500}, zwave_2={"switch": "on"})
    assert fired(decide(index, bright, event)) == ["not"]
    midnight = state(MOTION, "motion", "active", "inactive", ts=NOON + 12 * 3600)
    assert fired(decide(index, States(DEVICES), midnight)) == ["dark", "night", "any", "all"]


def test_disabled_rules_do_not_fire_and_enabling_is_instant() -> None:
    index = compile_rules([rule("r", [MOTION_ON], enabled=False)], UTC)
    event = state(MOTION, "motion", "active", "inactive")
    assert fired(decide(index, States(DEVICES), event)) == []
    index.disabled.discard("r")
    assert fired(decide(index, States(DEVICES), event)) == ["r"]


def test_a_rule_with_two_matching_triggers_fires_once() -> None:
    index = compile_rules(
        [rule("r", [MOTION_ON, {"type": "state", "device": MOTION, "attribute": "motion"}])], UTC
    )
    assert fired(decide(index, States(DEVICES), state(MOTION, "motion", "active", "inactive"))) == ["r"]


def test_time_and_hub_start_stimuli() -> None:
    index = compile_rules(
        [rule("seven", [{"type": "time", "at": "07:00"}]), rule("boot", [{"type": "hub_start"}])], UTC
    )
    assert fired(decide(index, States(DEVICES), TimeReached("seven", 0, NOON))) == ["seven"]
    assert fired(decide(index, States(DEVICES), TimeReached("seven", 1, NOON))) == []
    assert fired(decide(index, States(DEVICES), HubStarted(NOON))) == ["boot"]
    assert decide(index, States(DEVICES), Notification("x", "y", NOON)) == []


def test_a_rule_that_raises_is_a_fault_and_the_others_still_fire() -> None:
    index = compile_rules(
        [
            rule(
                "needs-lamp",
                [MOTION_ON],
                [{"type": "state", "device": "zwave-2", "attribute": "switch", "value": "off"}],
            ),
            rule("plain", [MOTION_ON]),
        ],
        UTC,
    )

    class Broken(States):
        def device(self, device_id: str) -> Device | None:
            if device_id == "zwave-2":
                raise RuntimeError("registry corrupted")
            return super().device(device_id)

    decisions = decide(index, Broken(DEVICES), state(MOTION, "motion", "active", "inactive"))
    assert fired(decisions) == ["plain"]
    faults = [d for d in decisions if isinstance(d, Fault)]
    assert [f.rule for f in faults] == ["needs-lamp"] and "registry corrupted" in faults[0].error


def test_decide_looks_only_at_rules_watching_the_event() -> None:
    many = [
        rule(
            f"r{i}",
            [{"type": "state", "device": "zwave-2", "attribute": "level"}],
            [{"type": "state", "device": "zwave-2", "attribute": "switch", "value": "on"}],
        )
        for i in range(10_000)
    ]
    index = compile_rules(
        [
            *many,
            rule(
                "motion",
                [MOTION_ON],
                [{"type": "numeric", "device": MOTION, "attribute": "illuminance", "below": 10}],
            ),
        ],
        UTC,
    )
    states = States(DEVICES)
    assert fired(decide(index, states, state(MOTION, "motion", "active", "inactive"))) == ["motion"]
    # One condition of one rule was read: the 10,000 others were never looked at.
    assert states.lookups == 1
    assert len(index.by_attribute[("zwave-2", "level")]) == 10_000


# --- properties -------------------------------------------------------------------------------

TRIGGERS = st.sampled_from(
    [
        MOTION_ON,
        {"type": "state", "device": MOTION, "attribute": "motion"},
        {"type": "state", "device": "zwave-2", "attribute": "switch", "to": "on", "from": "off"},
        {"type": "numeric", "device": "zwave-5", "attribute": "temperature", "above": 22},
        {"type": "numeric", "device": "zwave-2", "attribute": "level", "below": 50},
        {"type": "button", "device": BUTTON, "action": "pressed"},
        {"type": "hub_start"},
    ]
)
CONDITIONS = st.sampled_from(
    [
        {"type": "state", "device": "zwave-2", "attribute": "switch", "value": "off"},
        {"type": "numeric", "device": MOTION, "attribute": "illuminance", "below": 10},
        {"type": "time", "after": "22:00", "before": "06:00"},
        {"type": "not", "conditions": [{"type": "time", "after": "08:00", "before": "09:00"}]},
    ]
)
EVENTS = st.one_of(
    st.builds(
        lambda v, p, h: state(MOTION, "motion", v, p, NOON + h * 3600),
        st.sampled_from(["active", "inactive"]),
        st.sampled_from(["active", "inactive", None]),
        st.integers(0, 23),
    ),
    st.builds(
        lambda v, p: state("zwave-5", "temperature", v, p), st.floats(0, 40), st.floats(0, 40) | st.none()
    ),
    st.builds(lambda v, p: state("zwave-2", "level", v, p), st.integers(0, 100), st.integers(0, 100)),
    st.builds(lambda v: state("zwave-2", "switch", v, "off"), st.sampled_from(["on", "off"])),
    st.builds(lambda a: ButtonPressed(DeviceId(BUTTON), 1, a, NOON), st.sampled_from(["pressed", "held"])),
    st.just(HubStarted(NOON)),
)
RULES = st.lists(
    st.tuples(st.lists(TRIGGERS, min_size=1, max_size=2), st.lists(CONDITIONS, max_size=2)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(RULES, st.data())
def test_a_rules_decision_does_not_depend_on_the_other_rules(specs: list[Any], data: st.DataObject) -> None:
    rules = [rule(f"r{i}", triggers, conditions) for i, (triggers, conditions) in enumerate(specs)]
    subset = data.draw(st.lists(st.sampled_from(rules), unique_by=lambda r: r.id))
    event = data.draw(EVENTS)
    everything = fired(decide(compile_rules(rules, UTC), States(DEVICES), event))
    alone = fired(decide(compile_rules(subset, UTC), States(DEVICES), event))
    wanted = {r.id for r in subset}
    assert sorted(r for r in everything if r in wanted) == sorted(alone)
    assert len(everything) == len(set(everything))  # a rule fires at most once per event


@settings(max_examples=150, deadline=None)
@given(RULES, st.data())
def test_updating_the_index_rule_by_rule_equals_compiling_afresh(
    specs: list[Any], data: st.DataObject
) -> None:
    variants = [rule(f"r{i % 4}", triggers, conditions) for i, (triggers, conditions) in enumerate(specs)]
    index = compile_rules([], UTC)
    current: dict[str, Rule] = {}
    for step in data.draw(
        st.lists(st.sampled_from(variants) | st.sampled_from(["r0", "r1", "r9"]), max_size=15)
    ):
        if isinstance(step, str):
            index.remove(step)
            current.pop(step, None)
        else:
            index.add(step)
            current[step.id] = step
    fresh = compile_rules(current.values(), UTC)
    assert index.rules == fresh.rules
    assert {k: sorted(e.rule.id for e in v) for k, v in index.by_attribute.items()} == {
        k: sorted(e.rule.id for e in v) for k, v in fresh.by_attribute.items()
    }
    assert set(index.timed) == set(fresh.timed)
    event = data.draw(EVENTS)
    assert sorted(fired(decide(index, States(DEVICES), event))) == sorted(
        fired(decide(fresh, States(DEVICES), event))
    )
