"""Parser tests: every kind of mistake is reported with its JSON path and a sentence; nothing crashes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import RuleError
from hub_core.model import Device
from hubtest.rules_world import device
from local_rules.model import (
    AtTrigger,
    CommandAction,
    CronTrigger,
    DelayAction,
    Mode,
    NotCondition,
    SceneAction,
    StateTrigger,
    SunEvent,
    SunTrigger,
    TimeCondition,
    WaitAction,
)
from local_rules.parser import parse_rule

MOTION = "zigbee-00158d0001a2b3c4"
DEVICES = {
    d.id: d
    for d in (
        device(MOTION, "motion", "battery"),
        device("zwave-2", "switch", "level"),
        device("zwave-5", "temperature"),
        device("ble-a4c138000001", "button"),
    )
}


def lookup(device_id: str) -> Device | None:
    return DEVICES.get(device_id)  # type: ignore[call-overload, no-any-return]


CONTRACT_EXAMPLE: dict[str, Any] = {
    "id": "hall-light",
    "enabled": True,
    "mode": "restart",
    "triggers": [{"type": "state", "device": MOTION, "attribute": "motion", "to": "active"}],
    "conditions": [{"type": "time", "after": "sunset", "before": "sunrise"}],
    "actions": [
        {"type": "command", "device": "zwave-2", "command": "on"},
        {"type": "delay", "seconds": 300},
        {"type": "command", "device": "zwave-2", "command": "off"},
    ],
}


def problems(rule: object, *, sun: bool = True) -> dict[str, str]:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule, lookup, sun_available=sun)
    return {p.path: p.message for p in caught.value.problems}


def with_(**changes: Any) -> dict[str, Any]:
    return {**CONTRACT_EXAMPLE, **changes}


def test_the_contract_example_parses() -> None:
    rule = parse_rule(CONTRACT_EXAMPLE, lookup)
    assert rule.id == "hall-light" and rule.mode is Mode.RESTART and rule.enabled
    assert rule.triggers == (StateTrigger(MOTION, "motion", "active"),)
    assert isinstance(rule.conditions[0], TimeCondition)
    assert rule.conditions[0].after is not None and rule.conditions[0].after.sun is SunEvent.SUNSET
    assert [type(a) for a in rule.actions] == [CommandAction, DelayAction, CommandAction]
    assert rule.source == CONTRACT_EXAMPLE
    assert json.loads(json.dumps(rule.source)) == CONTRACT_EXAMPLE


def test_every_kind_of_part_parses() -> None:
    rule = parse_rule(
        {
            "id": "all-kinds",
            "mode": "queued",
            "max": 3,
            "triggers": [
                {"type": "numeric", "device": "zwave-5", "attribute": "temperature", "above": 24.5},
                {"type": "button", "device": "ble-a4c138000001", "button": 1, "action": "double"},
                {"type": "time", "at": "07:30"},
                {"type": "time", "sun": "sunset", "offset_minutes": -15},
                {"type": "time", "cron": "*/5 * * * 1-5"},
                {"type": "hub_start"},
            ],
            "conditions": [
                {
                    "type": "not",
                    "conditions": [
                        {"type": "state", "device": "zwave-2", "attribute": "switch", "value": ["on"]},
                        {"type": "numeric", "device": "zwave-2", "attribute": "level", "below": 10},
                    ],
                },
                {"type": "time", "after": "22:00", "before": "06:30", "weekdays": ["mon", "fri"]},
            ],
            "actions": [
                {
                    "type": "scene",
                    "commands": [{"device": "zwave-2", "command": "set_level", "args": {"level": 40}}],
                },
                {
                    "type": "wait",
                    "device": MOTION,
                    "attribute": "motion",
                    "to": "inactive",
                    "timeout_seconds": 60,
                },
                {"type": "enable_rule", "rule": "other"},
                {"type": "disable_rule", "rule": "all-kinds"},
                {"type": "notify", "message": "hello"},
            ],
        },
        lookup,
    )
    assert rule.max_runs == 3
    assert rule.triggers[2] == AtTrigger(7, 30)
    assert rule.triggers[3] == SunTrigger(SunEvent.SUNSET, -15)
    assert rule.triggers[4] == CronTrigger("*/5 * * * 1-5")
    assert isinstance(rule.conditions[0], NotCondition) and len(rule.conditions[0].conditions) == 2
    assert isinstance(rule.actions[0], SceneAction) and rule.actions[0].commands[0].args == {"level": 40}
    assert isinstance(rule.actions[1], WaitAction) and rule.actions[1].timeout_seconds == 60


@pytest.mark.parametrize(
    ("rule", "path", "words"),
    [
        (
            with_(triggers=[{"type": "state", "device": "zwave-99", "attribute": "switch"}]),
            "$.triggers[0].device",
            "unknown device 'zwave-99'",
        ),
        (
            with_(triggers=[{"type": "state", "device": "zwave-2", "attribute": "motion"}]),
            "$.triggers[0].attribute",
            "zwave-2 has no 'motion' attribute",
        ),
        (
            with_(triggers=[{"type": "state", "device": "zwave-2", "attribute": "brightness"}]),
            "$.triggers[0].attribute",
            "unknown attribute 'brightness'",
        ),
        (
            with_(triggers=[{"type": "state", "device": MOTION, "attribute": "motion", "to": "on"}]),
            "$.triggers[0].to",
            "motion must be one of active, inactive",
        ),
        (
            with_(triggers=[{"type": "numeric", "device": "zwave-2", "attribute": "switch", "above": 1}]),
            "$.triggers[0].attribute",
            "'switch' is not numeric",
        ),
        (
            with_(
                triggers=[{"type": "numeric", "device": "zwave-5", "attribute": "temperature", "above": "20"}]
            ),
            "$.triggers[0].above",
            "above must be a number, not a string",
        ),
        (
            with_(
                triggers=[
                    {
                        "type": "numeric",
                        "device": "zwave-5",
                        "attribute": "temperature",
                        "above": 30,
                        "below": 20,
                    }
                ]
            ),
            "$.triggers[0]",
            "nothing can match",
        ),
        (
            with_(triggers=[{"type": "time", "at": "25:00"}]),
            "$.triggers[0].at",
            "'25:00' is not a time of day",
        ),
        (with_(triggers=[{"type": "time", "at": "7am"}]), "$.triggers[0].at", 'time must be "HH:MM"'),
        (
            with_(triggers=[{"type": "time", "cron": "61 * * * *"}]),
            "$.triggers[0].cron",
            "not a valid cron expression",
        ),
        (
            with_(triggers=[{"type": "time", "cron": "* * *"}]),
            "$.triggers[0].cron",
            "cron must have 5 fields",
        ),
        (
            with_(triggers=[{"type": "time", "cron": "0 0 30 2 *"}]),
            "$.triggers[0].cron",
            "never matches a real date",
        ),
        (
            with_(triggers=[{"type": "time", "at": "07:00", "cron": "* * * * *"}]),
            "$.triggers[0]",
            "exactly one of",
        ),
        (
            with_(triggers=[{"type": "time", "sun": "noon"}]),
            "$.triggers[0].sun",
            "sun must be one of sunrise, sunset",
        ),
        (with_(triggers=[{"type": "motion"}]), "$.triggers[0].type", "trigger type must be one of"),
        (
            with_(triggers=[{"type": "button", "device": "zwave-2"}]),
            "$.triggers[0].device",
            "zwave-2 has no buttons",
        ),
        (with_(triggers=[]), "$.triggers", "triggers must not be empty"),
        (with_(triggers={"type": "hub_start"}), "$.triggers", "triggers must be a list, not an object"),
        (
            with_(actions=[{"type": "launch"}]),
            "$.actions[0].type",
            "action type must be one of command, delay",
        ),
        (
            with_(actions=[{"type": "command", "device": "zwave-2", "command": "explode"}]),
            "$.actions[0].command",
            "unknown command 'explode'",
        ),
        (
            with_(actions=[{"type": "command", "device": "zwave-2", "command": "lock"}]),
            "$.actions[0].command",
            "does not support 'lock'",
        ),
        (
            with_(
                actions=[
                    {"type": "command", "device": "zwave-2", "command": "set_level", "args": {"level": 101}}
                ]
            ),
            "$.actions[0].args",
            "level must be at most 100",
        ),
        (
            with_(actions=[{"type": "command", "device": "zwave-2", "command": "set_level"}]),
            "$.actions[0].args",
            "needs argument 'level'",
        ),
        (
            with_(actions=[{"type": "delay", "seconds": -1}]),
            "$.actions[0].seconds",
            "seconds must be at least 0",
        ),
        (
            with_(actions=[{"type": "delay", "seconds": True}]),
            "$.actions[0].seconds",
            "seconds must be a number, not a boolean",
        ),
        (
            with_(actions=[{"type": "wait", "device": MOTION, "attribute": "motion", "to": "inactive"}]),
            "$.actions[0].timeout_seconds",
            "'timeout_seconds' is required",
        ),
        (
            with_(actions=[{"type": "scene", "commands": []}]),
            "$.actions[0].commands",
            "commands must not be empty",
        ),
        (with_(actions=[{"type": "enable_rule", "rule": ""}]), "$.actions[0].rule", "rule must be a rule id"),
        (
            with_(actions=[{"type": "notify", "message": 5}]),
            "$.actions[0].message",
            "message must be a non-empty string",
        ),
        (
            with_(conditions=[{"type": "time", "after": "08:00", "before": "08:00"}]),
            "$.conditions[0]",
            "window is empty",
        ),
        (
            with_(conditions=[{"type": "time", "after": "08:61"}]),
            "$.conditions[0].after",
            "not a time of day",
        ),
        (
            with_(conditions=[{"type": "time", "weekdays": ["monday"]}]),
            "$.conditions[0].weekdays[0]",
            "weekday must be one of mon",
        ),
        (
            with_(
                conditions=[
                    {
                        "type": "any",
                        "conditions": [
                            {"type": "state", "device": "zwave-2", "attribute": "switch", "value": "dim"}
                        ],
                    }
                ]
            ),
            "$.conditions[0].conditions[0].value",
            "switch must be one of on, off",
        ),
        (with_(mode="sometimes"), "$.mode", "mode must be one of single, restart, queued, parallel"),
        (with_(max=0), "$.max", "max must be at least 1"),
        (with_(enabled="yes"), "$.enabled", "enabled must be true or false, not a string"),
        (with_(id="hall light!"), "$.id", "id must be 1-64 letters"),
        (with_(trigger=[]), "$.trigger", "unknown key 'trigger'"),
        ({k: v for k, v in CONTRACT_EXAMPLE.items() if k != "actions"}, "$.actions", "'actions' is required"),
        ([CONTRACT_EXAMPLE], "$", "a rule must be an object, not a list"),
    ],
)
def test_each_mistake_is_reported_where_it_is(rule: object, path: str, words: str) -> None:
    found = problems(rule)
    assert path in found, found
    assert words in found[path]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        with_(
            mode="fast",
            triggers=[
                {"type": "state", "device": "zwave-99", "attribute": "switch"},
                {"type": "time", "at": "24:00"},
            ],
            actions=[
                {"type": "delay"},
                {"type": "command", "device": "zwave-2", "command": "on", "extra": 1},
            ],
        )
    )
    assert set(found) == {
        "$.mode",
        "$.triggers[0].device",
        "$.triggers[1].at",
        "$.actions[0].seconds",
        "$.actions[1].extra",
    }


def test_sun_needs_the_hubs_location() -> None:
    found = problems(CONTRACT_EXAMPLE, sun=False)
    assert "latitude and longitude" in found["$.conditions[0].after"]
    assert "latitude and longitude" in found["$.conditions[0].before"]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    condition: dict[str, Any] = {"type": "time", "after": "08:00"}
    for _ in range(50):
        condition = {"type": "not", "conditions": [condition]}
    found = problems(with_(conditions=[condition]))
    assert any("nest at most" in message for message in found.values())


# --- fuzzing: the parser may only raise RuleError ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_crashes_the_parser(data: object) -> None:
    try:
        parse_rule(data, lookup)
    except RuleError as exc:
        assert exc.problems and all(p.path.startswith("$") and p.message for p in exc.problems)


KEYS = [
    "type",
    "device",
    "attribute",
    "to",
    "from",
    "above",
    "below",
    "at",
    "sun",
    "cron",
    "offset_minutes",
    "seconds",
    "command",
    "args",
    "commands",
    "conditions",
    "value",
    "after",
    "before",
    "weekdays",
    "timeout_seconds",
    "rule",
    "message",
    "button",
    "action",
    "on_timeout",
]
VALUES = (
    st.sampled_from(
        [
            "state",
            "numeric",
            "button",
            "time",
            "hub_start",
            "command",
            "delay",
            "wait",
            "scene",
            "notify",
            "enable_rule",
            "all",
            "any",
            "not",
            MOTION,
            "zwave-2",
            "zwave-5",
            "motion",
            "switch",
            "level",
            "active",
            "on",
            "07:00",
            "99:99",
            "sunrise",
            "* * * * *",
            "set_level",
            "mon",
            "",
            "25:61",
        ]
    )
    | st.integers(-5, 500)
    | st.floats(allow_nan=True)
    | st.none()
    | st.booleans()
)
parts = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
    lambda children: st.dictionaries(
        st.sampled_from(KEYS), children | st.lists(children, max_size=3), max_size=6
    ),
    max_leaves=10,
)


@settings(max_examples=250, deadline=None)
@given(
    st.lists(parts, max_size=3),
    st.lists(parts, max_size=3),
    st.lists(parts, max_size=3),
    st.sampled_from(["single", "restart", "queued", "parallel", "other", 3]),
)
def test_near_valid_rules_never_crash_the_parser(
    triggers: list[Any], conditions: list[Any], actions: list[Any], mode: object
) -> None:
    rule = {"id": "fuzz", "mode": mode, "triggers": triggers, "conditions": conditions, "actions": actions}
    try:
        parsed = parse_rule(rule, lookup)
    except RuleError as exc:
        assert exc.problems and all(p.path.startswith("$") and p.message for p in exc.problems)
    else:
        assert parsed.id == "fuzz" and parsed.triggers and parsed.actions


@pytest.mark.parametrize("text", ["07:00\n", "\u0667:00", "7:0", " 07:00"])
def test_only_plain_hh_mm_is_a_time(text: str) -> None:
    assert "$.triggers[0].at" in problems(with_(triggers=[{"type": "time", "at": text}]))


def test_an_id_with_a_trailing_newline_is_refused() -> None:
    assert "$.id" in problems(with_(id="hall\n"))
