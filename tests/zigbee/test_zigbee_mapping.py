"""The pure cluster <-> capability mapping: conversions, capabilities, buttons, command plans."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.model import Command, DeviceId, check_attribute
from radios.zigbee import mapping
from radios.zigbee.mapping import ClusterId, DeviceShape

C = ClusterId
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.lists(st.integers(), max_size=3),
)
CACHE = st.dictionaries(
    st.sampled_from(["multiplier", "divisor", "ac_power_multiplier", "ac_power_divisor", "zone_type"]),
    ANY_VALUE,
)


@pytest.mark.parametrize(
    ("cluster", "attribute", "raw", "cache", "expected"),
    [
        (C.ON_OFF, "on_off", True, {}, ("switch", "on")),
        (C.ON_OFF, "on_off", 0, {}, ("switch", "off")),
        (C.ON_OFF, "on_off", 7, {}, None),
        (C.LEVEL_CONTROL, "current_level", 254, {}, ("level", 100)),
        (C.LEVEL_CONTROL, "current_level", 1, {}, ("level", 0)),
        (C.LEVEL_CONTROL, "current_level", 255, {}, None),
        (C.COLOR_CONTROL, "color_temperature", 153, {}, ("color_temp", 6536)),
        (C.COLOR_CONTROL, "color_temperature", 0, {}, None),
        (C.COLOR_CONTROL, "color_temperature", 0xFFFF, {}, None),
        (C.TEMPERATURE, "measured_value", 2150, {}, ("temperature", 21.5)),
        (C.TEMPERATURE, "measured_value", -0x8000, {}, None),
        (C.HUMIDITY, "measured_value", 0xFFFF, {}, None),
        (C.ILLUMINANCE, "measured_value", 0, {}, ("illuminance", 0.0)),
        (C.ILLUMINANCE, "measured_value", 10001, {}, ("illuminance", 10.0)),
        (C.OCCUPANCY, "occupancy", 0b11, {}, ("motion", "active")),
        (C.POWER_CONFIGURATION, "battery_percentage_remaining", 200, {}, ("battery", 100)),
        (C.POWER_CONFIGURATION, "battery_percentage_remaining", 0xFF, {}, None),
        (
            C.ELECTRICAL_MEASUREMENT,
            "active_power",
            55,
            {"ac_power_multiplier": 2, "ac_power_divisor": 10},
            ("power", 11.0),
        ),
        (C.ELECTRICAL_MEASUREMENT, "active_power", -0x8000, {}, None),
        (C.ELECTRICAL_MEASUREMENT, "active_power", 55, {"ac_power_divisor": 0}, ("power", 55.0)),
        (
            C.METERING,
            "current_summ_delivered",
            123456,
            {"multiplier": 1, "divisor": 1000},
            ("energy", 123.456),
        ),
        (C.DOOR_LOCK, "lock_state", 1, {}, ("lock", "locked")),
        (C.DOOR_LOCK, "lock_state", 0xFF, {}, None),
        (C.THERMOSTAT, "system_mode", 4, {}, ("thermostat_mode", "heat")),
        (C.THERMOSTAT, "system_mode", 7, {}, None),  # fan only: not a CONTRACT mode
        (C.IAS_ZONE, "zone_status", 1, {"zone_type": 0x0015}, ("contact", "open")),
        (C.IAS_ZONE, "zone_status", 0, {"zone_type": 0x002A}, ("water", "dry")),
        (C.IAS_ZONE, "zone_status", 1, {"zone_type": 0x0028}, None),  # fire sensor: unmapped
        (C.IAS_ZONE, "zone_status", 1, {}, None),  # zone type not known yet
        (C.ON_OFF, None, 1, {}, None),
        (0x1234, "x", 1, {}, None),
    ],
)
def test_conversions(
    cluster: int, attribute: str | None, raw: Any, cache: dict[str, Any], expected: Any
) -> None:
    assert mapping.convert(cluster, attribute, raw, cache) == expected


@given(
    st.sampled_from([*{k[0] for k in mapping.ATTRIBUTE_MAP}, C.IAS_ZONE, 0xFFFF]),
    st.sampled_from([*{k[1] for k in mapping.ATTRIBUTE_MAP}, "zone_status", "nope"]),
    ANY_VALUE,
    CACHE,
)
def test_conversion_never_raises_and_yields_valid_values(
    cluster: int, attribute: str, raw: Any, cache: dict[str, Any]
) -> None:
    result = mapping.convert(cluster, attribute, raw, cache)
    if result is not None:
        assert check_attribute(result[0], result[1]) == result[1]


@given(st.integers(0, 254))
def test_level_round_trips_through_the_command_plan(raw: int) -> None:
    converted = mapping.convert(C.LEVEL_CONTROL, "current_level", raw, {})
    assert converted is not None
    shape = DeviceShape({C.LEVEL_CONTROL: {}})
    request = mapping.plan(Command(DeviceId("zigbee-1"), "set_level", {"level": converted[1]}), shape)[0]
    assert abs(request.args["level"] - raw) <= 2


def test_capabilities_from_clusters() -> None:
    bulb = DeviceShape({C.ON_OFF: {}, C.LEVEL_CONTROL: {}, C.COLOR_CONTROL: {}, C.GROUPS: {}})
    assert mapping.capabilities(bulb) == ("switch", "level", "color_temp")
    remote = DeviceShape({C.POWER_CONFIGURATION: {}}, frozenset({C.ON_OFF, C.LEVEL_CONTROL}))
    assert mapping.capabilities(remote) == ("battery", "button")
    # A light that also has an On/Off client cluster is not a remote.
    light = DeviceShape({C.ON_OFF: {}}, frozenset({C.ON_OFF}))
    assert mapping.capabilities(light) == ("switch",)
    zone = DeviceShape({C.IAS_ZONE: {"zone_type": 0x000D}})
    assert mapping.capabilities(zone) == ("motion",)
    thermostat = DeviceShape({C.THERMOSTAT: {}, C.TEMPERATURE: {}})
    assert mapping.capabilities(thermostat) == ("temperature", "heating_setpoint", "thermostat_mode")
    assert mapping.expected_interval(DeviceShape({C.POWER_CONFIGURATION: {}, C.ON_OFF: {}})) == 21600
    assert mapping.expected_interval(DeviceShape({C.BASIC: {}})) is None


@pytest.mark.parametrize(
    ("cluster", "command", "args", "expected"),
    [
        (C.ON_OFF, "on", None, (1, "pressed")),
        (C.ON_OFF, "off", None, (2, "pressed")),
        (C.LEVEL_CONTROL, "move", {"move_mode": 0}, (1, "held")),
        (C.LEVEL_CONTROL, "move_with_on_off", {"move_mode": 1}, (2, "held")),
        (C.LEVEL_CONTROL, "step_with_on_off", {"step_mode": 0}, (1, "pressed")),
        (C.LEVEL_CONTROL, "stop_with_on_off", None, (7, "released")),
        (C.LEVEL_CONTROL, "move_to_level", None, None),
        (C.COLOR_CONTROL, "on", None, None),
    ],
)
def test_button_events(cluster: int, command: str, args: dict[str, int] | None, expected: Any) -> None:
    class Args:
        def __init__(self, **values: int) -> None:
            self.__dict__.update(values)

    assert mapping.button_event(cluster, command, Args(**(args or {})), 7) == expected


def test_command_plans() -> None:
    shape = DeviceShape({C.THERMOSTAT: {}, C.DOOR_LOCK: {}, C.COLOR_CONTROL: {}, C.TEMPERATURE: {}})
    dev = DeviceId("zigbee-1")
    heat = mapping.plan(Command(dev, "set_heating_setpoint", {"value": 19.25}), shape)
    assert heat == [mapping.ZclRequest(C.THERMOSTAT, "write", args={"occupied_heating_setpoint": 1925})]
    mode = mapping.plan(Command(dev, "set_thermostat_mode", {"mode": "auto"}), shape)
    assert mode[0].args == {"system_mode": 1}
    assert mapping.plan(Command(dev, "unlock"), shape)[0].name == "unlock_door"
    ct = mapping.plan(Command(dev, "set_color_temp", {"kelvin": 2000, "duration": 7620}), shape)[0]
    assert ct.args == {"color_temp_mireds": 500, "transition_time": 65534}  # clamped to the field
    refresh = mapping.plan(Command(dev, "refresh"), shape)
    assert {r.cluster_id for r in refresh} == {C.THERMOSTAT, C.DOOR_LOCK, C.COLOR_CONTROL, C.TEMPERATURE}
    with pytest.raises(ValueError, match="no Zigbee cluster carries 'on'"):
        mapping.plan(Command(dev, "on"), shape)
