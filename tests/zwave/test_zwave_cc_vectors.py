"""Byte vectors for every modelled command class command, annotated per byte.

Each vector is parsed whole (must equal the expected object) and serialised back (must equal the
bytes); every truncation of it either parses or raises ProtocolError, nothing else.
"""

from __future__ import annotations

import pytest

from hub_core.errors import ProtocolError
from radios.zwave import cc
from radios.zwave.cc import CCCommand, parse_cc, registered

Annotated = tuple[tuple[str, str], ...]

VECTORS: list[tuple[Annotated, CCCommand]] = [
    # --- Basic ---
    ((("20", "Basic"), ("01", "Set"), ("63", "value 99")), cc.BasicSet(0x63)),
    ((("20", "Basic"), ("02", "Get")), cc.BasicGet()),
    ((("20", "Basic"), ("03", "Report"), ("ff", "current: on")), cc.BasicReport(0xFF)),
    (
        (("20", "Basic"), ("03", "Report"), ("00", "current off"), ("63", "target 99"), ("05", "5 s left")),
        cc.BasicReport(0, 0x63, 5),
    ),
    # --- Binary Switch ---
    ((("25", "Binary Switch"), ("01", "Set"), ("ff", "on")), cc.BinarySwitchSet(0xFF)),
    (
        (("25", "Binary Switch"), ("01", "Set"), ("00", "off"), ("81", "duration 2 min")),
        cc.BinarySwitchSet(0, 0x81),
    ),
    ((("25", "Binary Switch"), ("02", "Get")), cc.BinarySwitchGet()),
    ((("25", "Binary Switch"), ("03", "Report"), ("00", "off")), cc.BinarySwitchReport(0)),
    (
        (
            ("25", "Binary Switch"),
            ("03", "Report"),
            ("00", "current off"),
            ("ff", "target on"),
            ("00", "done"),
        ),
        cc.BinarySwitchReport(0, 0xFF, 0),
    ),
    # --- Multilevel Switch ---
    ((("26", "Multilevel Switch"), ("01", "Set"), ("32", "level 50")), cc.MultilevelSwitchSet(50)),
    (
        (("26", "Multilevel Switch"), ("01", "Set"), ("63", "level 99"), ("7f", "127 s")),
        cc.MultilevelSwitchSet(99, 0x7F),
    ),
    ((("26", "Multilevel Switch"), ("02", "Get")), cc.MultilevelSwitchGet()),
    ((("26", "Multilevel Switch"), ("03", "Report"), ("19", "current 25")), cc.MultilevelSwitchReport(25)),
    (
        (
            ("26", "Multilevel Switch"),
            ("03", "Report"),
            ("0a", "current 10"),
            ("32", "target 50"),
            ("03", "3 s"),
        ),
        cc.MultilevelSwitchReport(10, 50, 3),
    ),
    (
        (
            ("26", "Multilevel Switch"),
            ("04", "Start Level Change"),
            ("60", "down, ignore start"),
            ("00", "start 0"),
        ),
        cc.MultilevelSwitchStartLevelChange(down=True, ignore_start_level=True, start_level=0),
    ),
    (
        (("26", "ML Switch"), ("04", "Start Level Change"), ("00", "up"), ("14", "start 20"), ("0a", "10 s")),
        cc.MultilevelSwitchStartLevelChange(False, False, 20, 10),
    ),
    ((("26", "Multilevel Switch"), ("05", "Stop Level Change")), cc.MultilevelSwitchStopLevelChange()),
    # --- Binary Sensor ---
    ((("30", "Binary Sensor"), ("01", "Supported Get")), cc.BinarySensorSupportedGet()),
    (
        (
            ("30", "Binary Sensor"),
            ("04", "Supported Report"),
            ("40", "bit 6: water"),
            ("14", "bits 10, 12: door, motion"),
        ),
        cc.BinarySensorSupportedReport((6, 10, 12)),
    ),
    ((("30", "Binary Sensor"), ("02", "Get")), cc.BinarySensorGet()),
    ((("30", "Binary Sensor"), ("02", "Get"), ("0c", "type motion")), cc.BinarySensorGet(0x0C)),
    ((("30", "Binary Sensor"), ("03", "Report"), ("ff", "detected")), cc.BinarySensorReport(0xFF)),
    (
        (("30", "Binary Sensor"), ("03", "Report"), ("00", "idle"), ("0a", "type door/window")),
        cc.BinarySensorReport(0, 0x0A),
    ),
    # --- Multilevel Sensor ---
    ((("31", "Multilevel Sensor"), ("01", "Supported Sensor Get")), cc.MultilevelSensorSupportedSensorGet()),
    (
        (("31", "Multilevel Sensor"), ("02", "Supported Sensor Report"), ("15", "bits 0,2,4: types 1, 3, 5")),
        cc.MultilevelSensorSupportedSensorReport((1, 3, 5)),
    ),
    (
        (("31", "Multilevel Sensor"), ("03", "Supported Scale Get"), ("01", "air temperature")),
        cc.MultilevelSensorSupportedScaleGet(1),
    ),
    (
        (
            ("31", "Multilevel Sensor"),
            ("06", "Supported Scale Report"),
            ("01", "temperature"),
            ("03", "C and F"),
        ),
        cc.MultilevelSensorSupportedScaleReport(1, (0, 1)),
    ),
    ((("31", "Multilevel Sensor"), ("04", "Get")), cc.MultilevelSensorGet()),
    (
        (("31", "Multilevel Sensor"), ("04", "Get"), ("03", "illuminance"), ("08", "scale 1 (lux) << 3")),
        cc.MultilevelSensorGet(3, 1),
    ),
    (
        (
            ("31", "Multilevel Sensor"),
            ("05", "Report"),
            ("01", "air temperature"),
            ("22", "precision 1, scale 0 (C), size 2"),
            ("00d7", "215 -> 21.5"),
        ),
        cc.MultilevelSensorReport(1, 0, 21.5, 1, 2),
    ),
    (
        (
            ("31", "Multilevel Sensor"),
            ("05", "Report"),
            ("01", "air temperature"),
            ("2a", "precision 1, scale 1 (F), size 2"),
            ("ff9c", "-100 -> -10.0"),
        ),
        cc.MultilevelSensorReport(1, 1, -10.0, 1, 2),
    ),
    (
        (
            ("31", "ML Sensor"),
            ("05", "Report"),
            ("05", "humidity"),
            ("01", "precision 0, scale %, size 1"),
            ("2d", "45"),
        ),
        cc.MultilevelSensorReport(5, 0, 45.0, 0, 1),
    ),
    (
        (
            ("31", "Multilevel Sensor"),
            ("05", "Report"),
            ("03", "illuminance"),
            ("0c", "precision 0, scale 1 (lux), size 4"),
            ("000186a0", "100000 lux"),
        ),
        cc.MultilevelSensorReport(3, 1, 100000.0, 0, 4),
    ),
    # --- Meter ---
    ((("32", "Meter"), ("01", "Get")), cc.MeterGet()),
    ((("32", "Meter"), ("01", "Get"), ("10", "scale 2 (W) << 3")), cc.MeterGet(2)),
    (
        (("32", "Meter"), ("01", "Get"), ("38", "scale 7 (more)"), ("01", "scale 2: 8 = kVarh")),
        cc.MeterGet(8),
    ),
    (
        (
            ("32", "Meter"),
            ("02", "Report"),
            ("01", "electric"),
            ("44", "precision 2, scale 0 (kWh), size 4"),
            ("000004d2", "12.34"),
        ),
        cc.MeterReport(1, 0, 12.34, precision=2, size=4),
    ),
    (
        (
            ("32", "Meter"),
            ("02", "Report"),
            ("21", "rate consumed, electric"),
            ("32", "precision 1, scale 2 (W), size 2"),
            ("04d2", "123.4 W"),
            ("003c", "60 s since previous"),
            ("0064", "previous 10.0 W"),
        ),
        cc.MeterReport(1, 2, 123.4, 1, 60, 10.0, 1, 2),
    ),
    (
        (
            ("32", "Meter"),
            ("02", "Report"),
            ("a1", "scale bit 2, rate consumed, electric"),
            ("39", "precision 1, scale bits 11 -> 7, size 1"),
            ("05", "0.5"),
            ("0000", "no previous value"),
            ("01", "scale 2: 7 + 1 = 8 (kVarh)"),
        ),
        cc.MeterReport(1, 8, 0.5, 1, 0, None, 1, 1),
    ),
    ((("32", "Meter"), ("03", "Supported Get")), cc.MeterSupportedGet()),
    (
        (
            ("32", "Meter"),
            ("04", "Supported Report"),
            ("a1", "reset, consumed, electric"),
            ("05", "kWh and W"),
        ),
        cc.MeterSupportedReport(1, (0, 2), True, 1),
    ),
    (
        (
            ("32", "Meter"),
            ("04", "Supported Report"),
            ("01", "electric"),
            ("85", "more scales; kWh, W"),
            ("01", "one more byte"),
            ("01", "scale 7"),
        ),
        cc.MeterSupportedReport(1, (0, 2, 7)),
    ),
    # --- Thermostat Mode ---
    ((("40", "Thermostat Mode"), ("01", "Set"), ("01", "heat")), cc.ThermostatModeSet(1)),
    ((("40", "Thermostat Mode"), ("02", "Get")), cc.ThermostatModeGet()),
    ((("40", "Thermostat Mode"), ("03", "Report"), ("03", "auto")), cc.ThermostatModeReport(3)),
    ((("40", "Thermostat Mode"), ("04", "Supported Get")), cc.ThermostatModeSupportedGet()),
    (
        (("40", "Thermostat Mode"), ("05", "Supported Report"), ("0f", "off, heat, cool, auto")),
        cc.ThermostatModeSupportedReport((0, 1, 2, 3)),
    ),
    # --- Thermostat Setpoint ---
    (
        (
            ("43", "Setpoint"),
            ("01", "Set"),
            ("01", "heating"),
            ("22", "precision 1, C, size 2"),
            ("00d2", "21.0"),
        ),
        cc.ThermostatSetpointSet(1, 0, 21.0, 1, 2),
    ),
    ((("43", "Thermostat Setpoint"), ("02", "Get"), ("01", "heating")), cc.ThermostatSetpointGet(1)),
    (
        (
            ("43", "Setpoint"),
            ("03", "Report"),
            ("01", "heating"),
            ("09", "precision 0, F, size 1"),
            ("44", "68 F"),
        ),
        cc.ThermostatSetpointReport(1, 1, 68.0, 0, 1),
    ),
    ((("43", "Thermostat Setpoint"), ("04", "Supported Get")), cc.ThermostatSetpointSupportedGet()),
    (
        (("43", "Thermostat Setpoint"), ("05", "Supported Report"), ("06", "heating, cooling")),
        cc.ThermostatSetpointSupportedReport((1, 2)),
    ),
    # --- Central Scene ---
    ((("5b", "Central Scene"), ("01", "Supported Get")), cc.CentralSceneSupportedGet()),
    (
        (("5b", "Central Scene"), ("02", "Supported Report"), ("04", "4 scenes (v1)")),
        cc.CentralSceneSupportedReport(4),
    ),
    (
        (
            ("5b", "Central Scene"),
            ("02", "Supported Report"),
            ("02", "2 scenes"),
            ("03", "1 mask byte, identical"),
            ("0f", "pressed, released, held, 2x"),
        ),
        cc.CentralSceneSupportedReport(2, ((0, 1, 2, 3),), identical=True),
    ),
    (
        (
            ("5b", "Central Scene"),
            ("02", "Supported Report"),
            ("02", "2 scenes"),
            ("82", "slow refresh, 1 mask byte"),
            ("01", "scene 1: pressed"),
            ("07", "scene 2: pressed, released, held"),
        ),
        cc.CentralSceneSupportedReport(2, ((0,), (0, 1, 2)), slow_refresh=True),
    ),
    (
        (
            ("5b", "Central Scene"),
            ("03", "Notification"),
            ("07", "sequence 7"),
            ("82", "slow refresh, held"),
            ("01", "scene 1"),
        ),
        cc.CentralSceneNotification(7, 2, 1, slow_refresh=True),
    ),
    (
        (("5b", "Central Scene"), ("04", "Configuration Set"), ("80", "slow refresh")),
        cc.CentralSceneConfigurationSet(True),
    ),
    # --- Multi Channel ---
    ((("60", "Multi Channel"), ("07", "End Point Get")), cc.MultiChannelEndPointGet()),
    (
        (("60", "Multi Channel"), ("08", "End Point Report"), ("40", "identical"), ("02", "2 end points")),
        cc.MultiChannelEndPointReport(2, identical=True),
    ),
    (
        (
            ("60", "Multi Channel"),
            ("08", "End Point Report"),
            ("80", "dynamic"),
            ("03", "3"),
            ("01", "1 aggregated"),
        ),
        cc.MultiChannelEndPointReport(3, dynamic=True, aggregated=1),
    ),
    (
        (("60", "Multi Channel"), ("09", "Capability Get"), ("02", "end point 2")),
        cc.MultiChannelCapabilityGet(2),
    ),
    (
        (
            ("60", "Multi Channel"),
            ("0a", "Capability Report"),
            ("01", "end point 1"),
            ("10", "generic: binary switch"),
            ("01", "specific: power switch"),
            ("2532", "supports Binary Switch, Meter"),
            ("ef", "mark: controlled follow"),
            ("20", "controls Basic"),
        ),
        cc.MultiChannelCapabilityReport(1, 0x10, 0x01, (0x25, 0x32), (0x20,)),
    ),
    (
        (
            ("60", "Multi Channel"),
            ("0d", "Command Encapsulation"),
            ("02", "source end point 2"),
            ("00", "destination root"),
            ("2503ff", "Binary Switch Report: on"),
        ),
        cc.MultiChannelCommandEncapsulation(2, 0, cc.BinarySwitchReport(0xFF)),
    ),
    # --- Door Lock ---
    ((("62", "Door Lock"), ("01", "Operation Set"), ("ff", "secured")), cc.DoorLockOperationSet(0xFF)),
    ((("62", "Door Lock"), ("02", "Operation Get")), cc.DoorLockOperationGet()),
    (
        (
            ("62", "Door Lock"),
            ("03", "Operation Report"),
            ("ff", "secured"),
            ("00", "no handles enabled"),
            ("01", "door closed"),
            ("fe", "no timeout (min)"),
            ("fe", "no timeout (s)"),
        ),
        cc.DoorLockOperationReport(0xFF, 0, 0, 1),
    ),
    (
        (
            ("62", "Door Lock"),
            ("03", "Operation Report"),
            ("00", "unsecured"),
            ("21", "outside handle 2, inside handle 1"),
            ("02", "bolt unlocked, door open"),
            ("01", "1 min"),
            ("1e", "30 s"),
            ("ff", "target secured"),
            ("05", "5 s"),
        ),
        cc.DoorLockOperationReport(0, 2, 1, 2, 1, 30, 0xFF, 5),
    ),
    # --- Supervision ---
    (
        (
            ("6c", "Supervision"),
            ("01", "Get"),
            ("85", "status updates, session 5"),
            ("03", "3 bytes"),
            ("2501ff", "Binary Switch Set on"),
        ),
        cc.SupervisionGet(5, cc.BinarySwitchSet(0xFF), status_updates=True),
    ),
    (
        (
            ("6c", "Supervision"),
            ("02", "Report"),
            ("05", "session 5"),
            ("ff", "success"),
            ("00", "duration 0"),
        ),
        cc.SupervisionReport(5, 0xFF),
    ),
    (
        (
            ("6c", "Supervision"),
            ("02", "Report"),
            ("c1", "more updates, wake-up request, session 1"),
            ("01", "working"),
            ("0a", "10 s"),
        ),
        cc.SupervisionReport(1, 1, 10, more_updates=True, wake_up_request=True),
    ),
    # --- Configuration ---
    (
        (("70", "Configuration"), ("04", "Set"), ("0d", "parameter 13"), ("02", "size 2"), ("ff38", "-200")),
        cc.ConfigurationSet(13, -200, 2),
    ),
    (
        (
            ("70", "Configuration"),
            ("04", "Set"),
            ("0d", "parameter 13"),
            ("81", "default, size 1"),
            ("00", "ignored"),
        ),
        cc.ConfigurationSet(13, None, 1),
    ),
    ((("70", "Configuration"), ("05", "Get"), ("0d", "parameter 13")), cc.ConfigurationGet(13)),
    (
        (
            ("70", "Configuration"),
            ("06", "Report"),
            ("0d", "parameter 13"),
            ("04", "size 4"),
            ("00010000", "65536"),
        ),
        cc.ConfigurationReport(13, 65536, 4),
    ),
    # --- Notification ---
    ((("71", "Notification"), ("07", "Supported Get")), cc.NotificationSupportedGet()),
    (
        (("71", "Notification"), ("08", "Supported Report"), ("01", "1 mask byte"), ("e0", "types 5, 6, 7")),
        cc.NotificationSupportedReport((5, 6, 7)),
    ),
    (
        (("71", "Notification"), ("01", "Event Supported Get"), ("07", "home security")),
        cc.NotificationEventSupportedGet(7),
    ),
    (
        (
            ("71", "Notification"),
            ("02", "Event Supported Report"),
            ("07", "home security"),
            ("02", "2 mask bytes"),
            ("88", "events 3, 7"),
            ("01", "event 8"),
        ),
        cc.NotificationEventSupportedReport(7, (3, 7, 8)),
    ),
    (
        (("71", "Notification"), ("02", "Event Supported Report"), ("09", "system"), ("00", "not supported")),
        cc.NotificationEventSupportedReport(9, ()),
    ),
    (
        (
            ("71", "Notification"),
            ("04", "Get"),
            ("00", "V1 alarm type"),
            ("06", "access control"),
            ("00", "event"),
        ),
        cc.NotificationGet(0, 6, 0),
    ),
    (
        (("71", "Notification"), ("04", "Get"), ("00", "V1 alarm type"), ("05", "water (v2: no event)")),
        cc.NotificationGet(0, 5),
    ),
    (
        (
            ("71", "Notification"),
            ("05", "Report"),
            ("00", "V1 type"),
            ("00", "V1 level"),
            ("00", "reserved"),
            ("ff", "status on"),
            ("06", "access control"),
            ("17", "window/door closed"),
            ("00", "no parameters"),
        ),
        cc.NotificationReport(0, 0, 6, 0x17),
    ),
    (
        (("71", "Notification"), ("05", "Report"), ("15", "V1 type 21"), ("01", "V1 level 1")),
        cc.NotificationReport(0x15, 1),
    ),
    (
        (
            ("71", "Notification"),
            ("05", "Report"),
            ("00", "V1 type"),
            ("00", "V1 level"),
            ("00", "reserved"),
            ("ff", "status on"),
            ("07", "home security"),
            ("00", "event idle"),
            ("81", "sequence present, 1 parameter byte"),
            ("08", "clears: motion detected"),
            ("2a", "sequence 42"),
        ),
        cc.NotificationReport(0, 0, 7, 0, 0xFF, b"\x08", 42),
    ),
    (
        (
            ("71", "Notification"),
            ("05", "Report"),
            ("00", "V1 type"),
            ("00", "V1 level"),
            ("00", "reserved"),
            ("ff", "status on"),
            ("06", "access control"),
            ("0b", "lock jammed"),
            ("00", "no parameters"),
        ),
        cc.NotificationReport(0, 0, 6, 0x0B),
    ),
    (
        (("71", "Notification"), ("06", "Set"), ("07", "home security"), ("ff", "on")),
        cc.NotificationSet(7, 0xFF),
    ),
    # --- Manufacturer Specific ---
    ((("72", "Manufacturer Specific"), ("04", "Get")), cc.ManufacturerSpecificGet()),
    (
        (
            ("72", "Manufacturer Specific"),
            ("05", "Report"),
            ("0086", "Aeotec"),
            ("0003", "type 3"),
            ("0060", "id 0x60"),
        ),
        cc.ManufacturerSpecificReport(0x86, 3, 0x60),
    ),
    # --- Battery ---
    ((("80", "Battery"), ("02", "Get")), cc.BatteryGet()),
    ((("80", "Battery"), ("03", "Report"), ("55", "85 %")), cc.BatteryReport(85)),
    ((("80", "Battery"), ("03", "Report"), ("ff", "battery low")), cc.BatteryReport(0xFF)),
    # --- Wake Up ---
    (
        (("84", "Wake Up"), ("04", "Interval Set"), ("000e10", "3600 s"), ("01", "notify node 1")),
        cc.WakeUpIntervalSet(3600, 1),
    ),
    ((("84", "Wake Up"), ("05", "Interval Get")), cc.WakeUpIntervalGet()),
    (
        (("84", "Wake Up"), ("06", "Interval Report"), ("015180", "86400 s"), ("01", "node 1")),
        cc.WakeUpIntervalReport(86400, 1),
    ),
    ((("84", "Wake Up"), ("07", "Notification")), cc.WakeUpNotification()),
    ((("84", "Wake Up"), ("08", "No More Information")), cc.WakeUpNoMoreInformation()),
    ((("84", "Wake Up"), ("09", "Interval Capabilities Get")), cc.WakeUpIntervalCapabilitiesGet()),
    (
        (
            ("84", "Wake Up"),
            ("0a", "Interval Capabilities Report"),
            ("00003c", "min 60"),
            ("015180", "max 86400"),
            ("000e10", "default 3600"),
            ("00003c", "step 60"),
        ),
        cc.WakeUpIntervalCapabilitiesReport(60, 86400, 3600, 60),
    ),
    # --- Association ---
    (
        (("85", "Association"), ("01", "Set"), ("01", "group 1 (lifeline)"), ("01", "node 1")),
        cc.AssociationSet(1, (1,)),
    ),
    ((("85", "Association"), ("02", "Get"), ("01", "group 1")), cc.AssociationGet(1)),
    (
        (
            ("85", "Association"),
            ("03", "Report"),
            ("01", "group 1"),
            ("05", "max 5"),
            ("00", "none follow"),
            ("010a", "nodes 1, 10"),
        ),
        cc.AssociationReport(1, 5, (1, 10)),
    ),
    (
        (("85", "Association"), ("04", "Remove"), ("02", "group 2"), ("0a", "node 10")),
        cc.AssociationRemove(2, (10,)),
    ),
    ((("85", "Association"), ("05", "Supported Groupings Get")), cc.AssociationSupportedGroupingsGet()),
    (
        (("85", "Association"), ("06", "Supported Groupings Report"), ("03", "3 groups")),
        cc.AssociationSupportedGroupingsReport(3),
    ),
    # --- Version ---
    ((("86", "Version"), ("11", "Get")), cc.VersionGet()),
    (
        (
            ("86", "Version"),
            ("12", "Report"),
            ("03", "library: slave"),
            ("0705", "protocol 7.5"),
            ("0102", "firmware 1.2"),
        ),
        cc.VersionReport(3, (7, 5), ((1, 2),)),
    ),
    (
        (
            ("86", "Version"),
            ("12", "Report"),
            ("03", "library"),
            ("0710", "protocol 7.16"),
            ("0203", "firmware 0: 2.3"),
            ("04", "hardware 4"),
            ("01", "1 more target"),
            ("0100", "firmware 1: 1.0"),
        ),
        cc.VersionReport(3, (7, 16), ((2, 3), (1, 0)), 4),
    ),
    (
        (("86", "Version"), ("13", "Command Class Get"), ("26", "Multilevel Switch")),
        cc.VersionCommandClassGet(0x26),
    ),
    (
        (("86", "Version"), ("14", "Command Class Report"), ("26", "Multilevel Switch"), ("04", "version 4")),
        cc.VersionCommandClassReport(0x26, 4),
    ),
]


def _bytes(vector: Annotated) -> bytes:
    return bytes.fromhex("".join(part for part, _ in vector))


@pytest.mark.parametrize(("vector", "expected"), VECTORS, ids=[type(e).__name__ for _, e in VECTORS])
def test_vector_parses_and_serialises(vector: Annotated, expected: CCCommand) -> None:
    data = _bytes(vector)
    assert parse_cc(data) == expected
    assert expected.to_bytes() == data


@pytest.mark.parametrize(("vector", "expected"), VECTORS, ids=[type(e).__name__ for _, e in VECTORS])
def test_every_truncation_parses_or_raises_protocol_error(vector: Annotated, expected: CCCommand) -> None:
    data = _bytes(vector)
    for end in range(len(data)):
        try:
            parsed = parse_cc(data[:end])
        except ProtocolError:
            continue
        assert parse_cc(parsed.to_bytes()) == parsed


def test_every_modelled_command_has_a_vector() -> None:
    covered = {type(expected) for _, expected in VECTORS}
    missing = sorted(cls.__name__ for cls in registered().values() if cls not in covered)
    assert not missing, f"no byte vector for: {', '.join(missing)}"


def test_trailing_bytes_are_ignored_for_forward_compatibility() -> None:
    assert parse_cc(bytes.fromhex("8003 55 00 00 99")) == cc.BatteryReport(85)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        ("25", "no command byte"),
        ("3105 01 23 00", "value size must be 1, 2 or 4"),
        ("3105 01 22 00", "needs 4 payload bytes"),
        ("6c01 05 04 2501ff", "needs 6 payload bytes"),
        ("6c01 05 00", "empty command class frame"),
        ("600d 01 00 25", "no command byte"),
        ("7006 01 03 00 00 00", "value size must be 1, 2 or 4"),
        ("3202 a1 39 05 0000", "scale 7 needs a scale 2 byte"),
    ],
)
def test_malformed_input_raises_protocol_error_naming_the_problem(data: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_cc(bytes.fromhex(data))


def test_deep_encapsulation_is_refused() -> None:
    data = bytes.fromhex("2503ff")
    for _ in range(6):
        data = bytes((0x6C, 0x01, 0x05, len(data))) + data
    with pytest.raises(ProtocolError, match="nested too deep"):
        parse_cc(data)


def test_unknown_cc_and_command_are_kept_whole() -> None:
    unknown = parse_cc(bytes.fromhex("5e 02 01 02 03"))  # Z-Wave Plus Info Report: not modelled
    assert unknown == cc.UnknownCC(0x5E, 0x02, b"\x01\x02\x03")
    assert unknown.to_bytes() == bytes.fromhex("5e02010203")
    assert parse_cc(bytes.fromhex("25 7f")) == cc.UnknownCC(0x25, 0x7F, b"")
    assert parse_cc(bytes.fromhex("f1 00 05 aa")) == cc.UnknownCC(0xF100, 0x05, b"\xaa")
    assert parse_cc(b"\x00") == cc.NoOperation()
    assert cc.NoOperation().to_bytes() == b"\x00"
