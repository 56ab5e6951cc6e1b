"""The canonical device model: ids, attribute values with fixed units, command validation, JSON shapes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.errors import InvalidCommand
from hub_core.model import (
    COMMANDS,
    ButtonPressed,
    Device,
    DeviceId,
    Protocol,
    StateChanged,
    ble_device_id,
    check_attribute,
    make_command,
    protocol_of,
    rfc3339,
    zigbee_device_id,
    zwave_device_id,
)

DIMMER = Device(DeviceId("zwave-3"), Protocol.ZWAVE, "Hall dimmer", capabilities=("switch", "level"))


def test_device_ids_follow_the_contract() -> None:
    assert zwave_device_id(2) == "zwave-2"
    assert zigbee_device_id(0x00158D0001A2B3C4) == "zigbee-00158d0001a2b3c4"
    assert zigbee_device_id("00:15:8D:00:01:A2:B3:C4") == "zigbee-00158d0001a2b3c4"
    assert ble_device_id("A4:C1:38:00:00:01") == "ble-a4c138000001"
    assert protocol_of("zigbee-00158d0001a2b3c4") is Protocol.ZIGBEE
    assert protocol_of("lora-1") is None
    assert protocol_of("zwave-") is None


@pytest.mark.parametrize(
    ("attribute", "value", "normalised"),
    [("switch", "on", "on"), ("level", 55.0, 55), ("temperature", -4.5, -4.5), ("lock", "jammed", "jammed")],
)
def test_valid_attribute_values_are_normalised(attribute: str, value: object, normalised: object) -> None:
    assert check_attribute(attribute, value) == normalised


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("switch", "dim", "switch must be one of on, off, not 'dim'"),
        ("level", 101, "level must be at most 100, not 101"),
        ("level", 5.5, "level must be a whole number, not 5.5"),
        ("battery", True, "battery must be a number, not True"),
        ("humidity", float("nan"), "humidity must be a number, not nan"),
        ("colour", 1, "unknown attribute 'colour'"),
    ],
)
def test_invalid_attribute_values_say_why(attribute: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        check_attribute(attribute, value)


def test_a_valid_command_is_built_with_checked_args() -> None:
    command = make_command(DIMMER, "set_level", {"level": 40, "duration": 2})
    assert (command.device, command.name, dict(command.args)) == (
        "zwave-3",
        "set_level",
        {"level": 40, "duration": 2},
    )
    assert command.to_json() == {
        "device": "zwave-3",
        "command": "set_level",
        "args": {"level": 40, "duration": 2},
    }


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("dance", None, "unknown command 'dance'; known commands: "),
        ("lock", None, "zwave-3 does not support 'lock' (it has no 'lock' capability)"),
        ("set_level", None, "set_level needs argument 'level'"),
        ("set_level", {"level": 200}, "set_level: level must be at most 100, not 200"),
        (
            "set_level",
            {"level": 5, "speed": 1},
            "set_level takes no argument 'speed' (allowed: level, duration)",
        ),
        ("on", [1], "args must be an object, not list"),
        (7, None, "command must be a string, not 7"),
    ],
)
def test_invalid_commands_have_messages_a_client_can_show(name: object, args: object, message: str) -> None:
    with pytest.raises(InvalidCommand) as caught:
        make_command(DIMMER, name, args)
    assert str(caught.value).startswith(message)
    assert caught.value.device == "zwave-3"


@given(
    name=st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(max_size=12)),
    args=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["level", "duration", "kelvin", "value", "mode", "x"]),
            st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.booleans()),
        ),
    ),
)
def test_make_command_raises_only_invalid_command(name: object, args: object) -> None:
    device = Device(
        DeviceId("zigbee-0000000000000001"),
        Protocol.ZIGBEE,
        "all",
        capabilities=tuple(["switch", "level", "color_temp", "lock", "heating_setpoint", "thermostat_mode"]),
    )
    with contextlib.suppress(InvalidCommand):
        make_command(device, name, args)


def test_event_json_has_the_contract_shape() -> None:
    ts = 1_764_000_000.5
    assert rfc3339(ts) == "2025-11-24T16:00:00.500Z"
    assert StateChanged(DeviceId("zwave-2"), "switch", "on", ts, previous="off").to_json() == {
        "type": "state",
        "device": "zwave-2",
        "attribute": "switch",
        "value": "on",
        "ts": "2025-11-24T16:00:00.500Z",
    }
    assert ButtonPressed(DeviceId("zwave-9"), 1, "held", ts).to_json()["action"] == "held"


def test_device_json_round_trips() -> None:
    device = Device(
        DeviceId("zwave-2"), Protocol.ZWAVE, "Porch", "Acme", "S1", False, ("switch",), {"switch": "on"}
    )
    assert device.to_json() == {
        "id": "zwave-2",
        "protocol": "zwave",
        "name": "Porch",
        "manufacturer": "Acme",
        "model": "S1",
        "online": False,
        "capabilities": ["switch"],
        "state": {"switch": "on"},
    }
    assert Device.from_json(device.to_json()) == device
