"""Numbers from outside are range-checked before any conversion: a huge integer is a named error, never
an OverflowError (which the LAN API turned into a 500, and SQLite into a dead outbox)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_core.errors import InvalidCommand, RuleError
from hub_core.model import COMMANDS, Device, DeviceId, Protocol, check_number, make_command
from local_rules.parser import parse_rule

HUGE = [10**400, -(10**400), 2**63, 2**1023 * 2, 10**16]
THERMOSTAT = Device(
    DeviceId("zwave-9"),
    Protocol.ZWAVE,
    "Everything",
    capabilities=("switch", "level", "color_temp", "heating_setpoint", "temperature", "power", "button"),
)


@pytest.mark.parametrize("number", HUGE)
def test_check_number_refuses_huge_integers_by_name(number: int) -> None:
    with pytest.raises(ValueError, match=r"^level must be"):
        check_number("level", number, 0, 100)
    with pytest.raises(ValueError, match=r"^power must be between -1e15 and 1e15"):
        check_number("power", number)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("set_level", {"level": 10**400}),
        ("set_level", {"level": 5, "duration": 10**400}),
        ("set_color_temp", {"kelvin": -(10**400)}),
        ("set_heating_setpoint", {"value": 2**64}),
    ],
)
def test_command_arguments_beyond_float_range_are_invalid_commands(
    command: str, args: dict[str, Any]
) -> None:
    with pytest.raises(InvalidCommand, match=f"^{command}: "):
        make_command(THERMOSTAT, command, args)


def _rule(**parts: Any) -> dict[str, Any]:
    return {
        "id": "r",
        "triggers": [{"type": "state", "device": "zwave-9", "attribute": "switch"}],
        "actions": [{"type": "command", "device": "zwave-9", "command": "on"}],
        **parts,
    }


NUM_TRIGGER = {"type": "numeric", "device": "zwave-9", "attribute": "temperature"}


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        (_rule(triggers=[{**NUM_TRIGGER, "above": 10**400}]), "$.triggers[0].above"),
        (_rule(triggers=[{**NUM_TRIGGER, "below": -(10**400)}]), "$.triggers[0].below"),
        (_rule(conditions=[{**NUM_TRIGGER, "type": "numeric", "above": 2**70}]), "$.conditions[0].above"),
        (_rule(actions=[{"type": "delay", "seconds": 10**400}]), "$.actions[0].seconds"),
        (
            _rule(triggers=[{"type": "time", "sun": "sunset", "offset_minutes": 10**400}]),
            "$.triggers[0].offset_minutes",
        ),
        (
            _rule(triggers=[{"type": "button", "device": "zwave-9", "button": 10**400}]),
            "$.triggers[0].button",
        ),
        (_rule(max=10**400), "$.max"),
        (
            _rule(
                actions=[
                    {
                        "type": "wait",
                        "device": "zwave-9",
                        "attribute": "switch",
                        "to": "on",
                        "timeout_seconds": 10**400,
                    }
                ]
            ),
            "$.actions[0].timeout_seconds",
        ),
        (
            _rule(triggers=[{"type": "state", "device": "zwave-9", "attribute": "power", "to": 10**400}]),
            "$.triggers[0].to",
        ),
        (
            _rule(
                conditions=[
                    {"type": "state", "device": "zwave-9", "attribute": "power", "value": [1, 10**400]}
                ]
            ),
            "$.conditions[0].value[1]",
        ),
        (
            _rule(
                actions=[
                    {
                        "type": "command",
                        "device": "zwave-9",
                        "command": "set_level",
                        "args": {"level": 10**400},
                    }
                ]
            ),
            "$.actions[0].args",
        ),
        (
            _rule(
                actions=[
                    {
                        "type": "scene",
                        "commands": [
                            {
                                "device": "zwave-9",
                                "command": "set_level",
                                "args": {"level": 1, "duration": 10**400},
                            }
                        ],
                    }
                ]
            ),
            "$.actions[0].commands[0].args",
        ),
    ],
)
def test_rule_numbers_beyond_float_range_are_rule_problems(rule: dict[str, Any], path: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule, {"zwave-9": THERMOSTAT}.get)
    assert path in [p.path for p in caught.value.problems]


numbers = st.one_of(
    st.integers(), st.floats(allow_nan=True), st.integers(min_value=10**15, max_value=10**500)
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(COMMANDS)),
    key=st.sampled_from(["level", "duration", "kelvin", "value"]),
    number=numbers,
)
def test_any_number_in_any_command_argument_is_accepted_or_an_invalid_command(
    name: str, key: str, number: int | float
) -> None:
    try:
        command = make_command(THERMOSTAT, name, {key: number})
    except InvalidCommand:
        return
    for value in command.args.values():
        assert abs(value) <= 1e15  # nothing downstream can overflow
