"""The CC <-> canonical model mapping (CONTRACT section 4), encapsulation and the interview as data."""

from __future__ import annotations

import json

import pytest

from hub_core.errors import InvalidCommand, ProtocolError
from hub_core.model import ButtonPressed, Command, Device, DeviceId, Protocol, StateChanged, make_command
from radios.zwave import cc
from radios.zwave.cc import (
    CommandClass,
    NodeCapabilities,
    answers,
    capabilities_of,
    command_to_ccs,
    decapsulate,
    encapsulate,
    interview_follow_ups,
    interview_queries,
    parse_cc,
    report_to_events,
    supervision_reply,
    unwrap,
)

DEV = "zwave-7"

SWITCH = NodeCapabilities(ccs={CommandClass.BINARY_SWITCH: 2, CommandClass.BASIC: 1})
DIMMER = NodeCapabilities(ccs={CommandClass.MULTILEVEL_SWITCH: 4, CommandClass.BASIC: 1})
DIMMER_V1 = NodeCapabilities(ccs={CommandClass.MULTILEVEL_SWITCH: 1})
LOCK = NodeCapabilities(
    ccs={CommandClass.DOOR_LOCK: 4, CommandClass.NOTIFICATION: 8, CommandClass.BATTERY: 1},
    notification_events={6: (1, 2, 3, 4, 0x0B)},
)
THERMOSTAT = NodeCapabilities(
    ccs={CommandClass.THERMOSTAT_MODE: 3, CommandClass.THERMOSTAT_SETPOINT: 3},
    thermostat_modes=(0, 1),
    setpoint_types=(1,),
)
MULTISENSOR = NodeCapabilities(
    ccs={
        CommandClass.MULTILEVEL_SENSOR: 11,
        CommandClass.BINARY_SENSOR: 2,
        CommandClass.NOTIFICATION: 8,
        CommandClass.BATTERY: 1,
        CommandClass.METER: 4,
    },
    binary_sensor_types=(0x0C,),
    sensor_scales={1: (0, 1), 3: (1,), 5: (0,)},
    notification_events={7: (3, 8), 5: (2,)},
    meter_scales={1: (0, 2)},
)


def _states(events: list[object]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for e in events:
        assert isinstance(e, StateChanged)
        assert e.device == DEV
        out.append((e.attribute, e.value))
    return out


def _report(hex_bytes: str, caps: NodeCapabilities) -> list[tuple[str, object]]:
    return _states(list(report_to_events(DEV, parse_cc(bytes.fromhex(hex_bytes)), caps)))


# --- reports -> canonical events ---


@pytest.mark.parametrize(
    ("data", "caps", "expected"),
    [
        ("2503 ff", SWITCH, [("switch", "on")]),
        ("2503 00", SWITCH, [("switch", "off")]),
        ("2503 fe", SWITCH, []),  # unknown state
        ("2603 63", DIMMER, [("switch", "on"), ("level", 100)]),  # 99 is full brightness
        ("2603 32", DIMMER, [("switch", "on"), ("level", 50)]),
        ("2603 00", DIMMER, [("switch", "off"), ("level", 0)]),
        ("2603 ff", DIMMER, [("switch", "on")]),  # "on" without a level
        ("2603 64", DIMMER, []),  # 100 is reserved
        ("2003 00", SWITCH, [("switch", "off")]),
        ("2003 14", DIMMER, [("switch", "on"), ("level", 20)]),
        ("2001 ff", SWITCH, [("switch", "on")]),  # Basic Set from a switch = its new state
        ("2001 ff", MULTISENSOR, []),  # ... but from a sensor it means nothing canonical
        ("3003 ff 0c", MULTISENSOR, [("motion", "active")]),
        ("3003 00 0c", MULTISENSOR, [("motion", "inactive")]),
        ("3003 ff", MULTISENSOR, [("motion", "active")]),  # v1: the one known type
        ("3003 ff 0a", MULTISENSOR, [("contact", "open")]),
        ("3003 00 06", MULTISENSOR, [("water", "dry")]),
        ("3003 ff 02", MULTISENSOR, []),  # smoke: no canonical attribute
        ("3105 01 22 00d7", MULTISENSOR, [("temperature", 21.5)]),
        ("3105 01 2a 02bc", MULTISENSOR, [("temperature", 21.11)]),  # 70.0 F
        ("3105 05 01 2d", MULTISENSOR, [("humidity", 45.0)]),
        ("3105 03 0a 012c", MULTISENSOR, [("illuminance", 300.0)]),
        ("3105 03 01 32", MULTISENSOR, []),  # illuminance in %: no lux figure
        ("3105 04 22 0190", MULTISENSOR, [("power", 40.0)]),
        ("3202 21 44 000004d2", MULTISENSOR, [("energy", 12.34)]),
        ("3202 21 32 04d2 0000", MULTISENSOR, [("power", 123.4)]),
        ("3202 22 54 00000001", MULTISENSOR, []),  # gas
        ("7105 000000ff 07 08 00", MULTISENSOR, [("motion", "active")]),
        ("7105 000000ff 07 00 01 08", MULTISENSOR, [("motion", "inactive")]),
        ("7105 000000ff 07 00 01 03", MULTISENSOR, []),  # idle of tampering: not motion
        ("7105 000000ff 07 00 00", MULTISENSOR, [("motion", "inactive")]),
        ("7105 000000ff 05 02 00", MULTISENSOR, [("water", "wet")]),
        ("7105 000000ff 05 00 01 02", MULTISENSOR, [("water", "dry")]),
        ("7105 000000ff 06 16 00", MULTISENSOR, [("contact", "open")]),
        ("7105 000000ff 06 17 00", MULTISENSOR, [("contact", "closed")]),
        ("7105 000000ff 06 01 00", LOCK, [("lock", "locked")]),
        ("7105 000000ff 06 02 00", LOCK, [("lock", "unlocked")]),
        ("7105 000000ff 06 03 00", LOCK, [("lock", "locked")]),
        ("7105 000000ff 06 04 00", LOCK, [("lock", "unlocked")]),
        ("7105 000000ff 06 0b 00", LOCK, [("lock", "jammed")]),
        ("7105 1501", LOCK, []),  # V1 alarm only: manufacturer specific
        ("6203 ff 00 01 fe fe", LOCK, [("lock", "locked")]),
        ("6203 00 00 01 fe fe", LOCK, [("lock", "unlocked")]),
        ("6203 01 00 01 fe fe", LOCK, [("lock", "unlocked")]),  # unsecured with timeout
        ("6203 fe 00 01 fe fe", LOCK, []),
        ("8003 5a", LOCK, [("battery", 90)]),
        ("8003 ff", LOCK, [("battery", 0)]),  # battery low
        ("8003 c8", LOCK, []),  # 200 %: out of range
        ("4003 01", THERMOSTAT, [("thermostat_mode", "heat")]),
        ("4003 00", THERMOSTAT, [("thermostat_mode", "off")]),
        ("4003 0b", THERMOSTAT, []),  # energy heat: no canonical mode
        ("4303 01 22 00d2", THERMOSTAT, [("heating_setpoint", 21.0)]),
        ("4303 01 09 44", THERMOSTAT, [("heating_setpoint", 20.0)]),  # 68 F
        ("4303 02 22 00d2", THERMOSTAT, []),  # cooling setpoint
        ("8407", SWITCH, []),
        ("8612 03 0705 0102", SWITCH, []),
    ],
)
def test_report_maps_to_canonical_state(
    data: str, caps: NodeCapabilities, expected: list[tuple[str, object]]
) -> None:
    assert _report(data, caps) == expected


@pytest.mark.parametrize(
    ("key", "action"), [(0, "pressed"), (1, "released"), (2, "held"), (3, "double"), (4, None)]
)
def test_central_scene_notification_is_a_button_event(key: int, action: str | None) -> None:
    events = report_to_events(DEV, cc.CentralSceneNotification(9, key, 3), NodeCapabilities())
    if action is None:
        assert events == []  # pressed 3x has no canonical action
        return
    (event,) = events
    assert isinstance(event, ButtonPressed)
    assert (event.device, event.button, event.action) == (DEV, 3, action)


def test_supervised_report_maps_like_the_bare_one() -> None:
    events = report_to_events(DEV, cc.SupervisionGet(3, cc.BinarySwitchReport(0xFF)), SWITCH)
    assert _states(list(events)) == [("switch", "on")]


# --- commands -> CCs ---


def _device(caps: NodeCapabilities) -> Device:
    return Device(DeviceId(DEV), Protocol.ZWAVE, "n", capabilities=capabilities_of(caps))


def _cmd(caps: NodeCapabilities, name: str, args: dict[str, object] | None = None) -> Command:
    return make_command(_device(caps), name, args)


def _hex(commands: list[cc.CCCommand]) -> list[str]:
    return [c.to_bytes().hex() for c in commands]


@pytest.mark.parametrize(
    ("caps", "name", "args", "expected"),
    [
        (SWITCH, "on", None, ["2501ff", "2502"]),
        (SWITCH, "off", None, ["250100", "2502"]),
        (DIMMER, "on", None, ["2601ff", "2602"]),  # 0xFF: back to the last level
        (DIMMER, "off", None, ["260100", "2602"]),
        (DIMMER, "set_level", {"level": 100}, ["260163", "2602"]),
        (DIMMER, "set_level", {"level": 40}, ["260128", "2602"]),
        (DIMMER, "set_level", {"level": 40, "duration": 5}, ["26012805", "2602"]),
        (DIMMER, "set_level", {"level": 0, "duration": 600}, ["26010089", "2602"]),  # 10 min
        (DIMMER, "set_level", {"level": 0, "duration": 0}, ["26010000", "2602"]),
        (DIMMER_V1, "set_level", {"level": 10, "duration": 5}, ["26010a", "2602"]),  # v1 has no duration
        (LOCK, "lock", None, ["6201ff", "6202"]),
        (LOCK, "unlock", None, ["620100", "6202"]),
        (THERMOSTAT, "set_heating_setpoint", {"value": 21.5}, ["4301012200d7", "430201"]),
        (THERMOSTAT, "set_heating_setpoint", {"value": 20}, ["4301010114", "430201"]),
        (THERMOSTAT, "set_thermostat_mode", {"mode": "heat"}, ["400101", "4002"]),
    ],
)
def test_command_maps_to_ccs(
    caps: NodeCapabilities, name: str, args: dict[str, object] | None, expected: list[str]
) -> None:
    assert _hex(command_to_ccs(_cmd(caps, name, args), caps)) == expected


def test_toggle_uses_the_known_state() -> None:
    command = _cmd(SWITCH, "toggle")
    assert _hex(command_to_ccs(command, SWITCH, {"switch": "on"}))[0] == "250100"
    assert _hex(command_to_ccs(command, SWITCH, {"switch": "off"}))[0] == "2501ff"
    assert _hex(command_to_ccs(command, SWITCH))[0] == "2501ff"


def test_refresh_asks_every_state_cc() -> None:
    command = _cmd(MULTISENSOR, "refresh")
    assert _hex(command_to_ccs(command, MULTISENSOR)) == [
        "30020c",  # binary sensor, motion
        "31040100",  # temperature in C
        "31040308",  # illuminance in lux
        "31040500",  # humidity in %
        "320100",  # kWh
        "320110",  # W
        "7104000500",  # notification: water's pending state (v3+: event 0x00)
        "7104000700",  # notification: home security (motion)
        "8002",  # battery
    ]


def test_commands_a_node_cannot_do_are_invalid_with_a_reason() -> None:
    with pytest.raises(InvalidCommand, match="no Door Lock command class"):
        command_to_ccs(Command(DeviceId(DEV), "lock"), SWITCH)
    with pytest.raises(InvalidCommand, match="no Multilevel Switch"):
        command_to_ccs(Command(DeviceId(DEV), "set_level", {"level": 5}), SWITCH)
    with pytest.raises(InvalidCommand, match="does not support thermostat mode 'cool'"):
        command_to_ccs(Command(DeviceId(DEV), "set_thermostat_mode", {"mode": "cool"}), THERMOSTAT)
    with pytest.raises(InvalidCommand, match="set_color_temp"):
        command_to_ccs(Command(DeviceId(DEV), "set_color_temp", {"kelvin": 3000}), DIMMER)
    with pytest.raises(InvalidCommand, match="numeric 'level'"):
        command_to_ccs(Command(DeviceId(DEV), "set_level", {"level": "high"}), DIMMER)


def test_set_then_report_round_trips_through_the_mapping() -> None:
    for level in range(0, 101):
        (set_cmd, _) = command_to_ccs(Command(DeviceId(DEV), "set_level", {"level": level}), DIMMER)
        assert isinstance(set_cmd, cc.MultilevelSwitchSet)
        report = cc.MultilevelSwitchReport(set_cmd.value)
        state = dict(_states(list(report_to_events(DEV, report, DIMMER))))
        # 99 and 100 % are both the highest Z-Wave level; every other level is exact.
        assert state["level"] == (100 if level >= 99 else level)


# --- capabilities ---


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (SWITCH, ("switch",)),
        (DIMMER, ("switch", "level")),
        (LOCK, ("lock", "battery")),
        (THERMOSTAT, ("heating_setpoint", "thermostat_mode")),
        (
            MULTISENSOR,
            ("temperature", "humidity", "illuminance", "motion", "water", "battery", "power", "energy"),
        ),
        (NodeCapabilities(ccs={CommandClass.CENTRAL_SCENE: 3}), ("button",)),
        (
            NodeCapabilities(ccs={CommandClass.NOTIFICATION: 4}, notification_events={6: (0x16, 0x17)}),
            ("contact",),
        ),
        (NodeCapabilities(ccs={CommandClass.NOTIFICATION: 2}, notification_events={7: ()}), ("motion",)),
        (NodeCapabilities(ccs={CommandClass.MULTILEVEL_SENSOR: 5}, sensor_scales={3: (0,)}), ()),
    ],
)
def test_capabilities_of(caps: NodeCapabilities, expected: tuple[str, ...]) -> None:
    from hub_core.model import ATTRIBUTES

    order = [*ATTRIBUTES, "button"]
    assert capabilities_of(caps) == tuple(sorted(expected, key=order.index))


# --- encapsulation ---


def test_encapsulate_and_decapsulate_multi_channel_and_supervision() -> None:
    inner = cc.BinarySwitchSet(0xFF)
    wrapped = encapsulate(inner, endpoint=2, supervision=True, session_id=9)
    assert wrapped.to_bytes().hex() == "600d0002" + "6c010903" + "2501ff"
    assert decapsulate(parse_cc(wrapped.to_bytes())) == (0, inner)  # we sent it: source end point 0
    received = cc.MultiChannelCommandEncapsulation(2, 0, cc.SupervisionGet(9, cc.BinarySwitchReport(0)))
    envelope = unwrap(received)
    assert (envelope.endpoint, envelope.command, envelope.supervision_session) == (
        2,
        cc.BinarySwitchReport(0),
        9,
    )
    reply = supervision_reply(envelope)
    assert reply is not None and reply.to_bytes().hex() == "600d0002" + "6c0209ff00"
    # Supervision outside Multi Channel is unwrapped too.
    other_order = cc.SupervisionGet(4, cc.MultiChannelCommandEncapsulation(3, 0, cc.BatteryReport(50)))
    assert decapsulate(other_order) == (3, cc.BatteryReport(50))
    assert encapsulate(inner, 0) is inner
    assert supervision_reply(unwrap(inner)) is None


def test_doubly_nested_multi_channel_is_a_protocol_error() -> None:
    nested = cc.MultiChannelCommandEncapsulation(
        1, 0, cc.MultiChannelCommandEncapsulation(2, 0, cc.BasicGet())
    )
    with pytest.raises(ProtocolError, match="inside Multi Channel"):
        unwrap(nested)


# --- interview as data ---


def _run_interview(caps: NodeCapabilities, replies: dict[bytes, cc.CCCommand]) -> NodeCapabilities:
    """Drive interview_queries/follow-ups against a table of canned replies, as the driver does."""
    queue: list[cc.CCCommand] = []
    for command_class in sorted(caps.ccs):
        queue += interview_queries(command_class, caps.version(command_class), caps)
    asked = []
    while queue:
        query = queue.pop(0)
        asked.append(query.to_bytes())
        reply = replies.get(query.to_bytes())
        if reply is None:
            continue
        assert answers(query, reply)
        caps = caps.absorb(reply)
        queue += interview_follow_ups(reply, caps)
    return caps


def test_interview_of_a_multisensor_learns_types_scales_and_events() -> None:
    start = NodeCapabilities().with_ccs([0x31, 0x30, 0x71, 0x80, 0x72])
    versions = {0x31: 11, 0x30: 2, 0x71: 8, 0x80: 1, 0x72: 2}
    for c, v in versions.items():
        start = start.absorb(cc.VersionCommandClassReport(c, v))
    replies: dict[bytes, cc.CCCommand] = {
        bytes.fromhex("7204"): cc.ManufacturerSpecificReport(0x86, 2, 0x64),
        bytes.fromhex("3001"): cc.BinarySensorSupportedReport((0x0C,)),
        bytes.fromhex("30020c"): cc.BinarySensorReport(0, 0x0C),
        bytes.fromhex("3101"): cc.MultilevelSensorSupportedSensorReport((1, 5)),
        bytes.fromhex("310301"): cc.MultilevelSensorSupportedScaleReport(1, (0, 1)),
        bytes.fromhex("310305"): cc.MultilevelSensorSupportedScaleReport(5, (0,)),
        bytes.fromhex("7107"): cc.NotificationSupportedReport((7,)),
        bytes.fromhex("710107"): cc.NotificationEventSupportedReport(7, (3, 8)),
        bytes.fromhex("8002"): cc.BatteryReport(90),
    }
    caps = _run_interview(start, replies)
    assert caps.sensor_scales == {1: (0, 1), 5: (0,)}
    assert caps.notification_events == {7: (3, 8)}
    assert caps.binary_sensor_types == (0x0C,)
    assert caps.model == "0002:0064"
    assert capabilities_of(caps) == ("temperature", "humidity", "motion", "battery")
    again = NodeCapabilities.from_json(json.loads(json.dumps(caps.to_json())))
    assert again == caps


def test_interview_of_multi_channel_end_points() -> None:
    caps = NodeCapabilities().with_ccs([0x60, 0x25, 0x86])
    caps = caps.absorb(cc.VersionCommandClassReport(0x60, 4)).absorb(cc.VersionCommandClassReport(0x25, 2))
    assert interview_queries(0x60, 4, caps) == [cc.MultiChannelEndPointGet()]
    report = cc.MultiChannelEndPointReport(2)
    caps = caps.absorb(report)
    assert interview_follow_ups(report, caps) == [
        cc.MultiChannelCapabilityGet(1),
        cc.MultiChannelCapabilityGet(2),
    ]
    caps = caps.absorb(cc.MultiChannelCapabilityReport(1, 0x10, 1, (0x25,)))
    caps = caps.absorb(cc.MultiChannelCapabilityReport(2, 0x21, 1, (0x31,)))
    assert caps.endpoint(1).version(0x25) == 2  # end points share the root's versions
    assert capabilities_of(caps.endpoint(1)) == ("switch",)
    caps = caps.absorb(cc.MultilevelSensorReport(1, 0, 20.0), endpoint=2)
    assert capabilities_of(caps.endpoint(2)) == ("temperature",)
    assert NodeCapabilities.from_json(json.loads(json.dumps(caps.to_json()))) == caps


def test_version_zero_means_not_supported() -> None:
    caps = NodeCapabilities().with_ccs([0x25, 0x26]).absorb(cc.VersionCommandClassReport(0x26, 0))
    assert caps.supports(0x25) and caps.version(0x25) == 1  # listed, not asked yet
    assert not caps.supports(0x26) and caps.version(0x26) == 0


def test_answers_matches_the_asked_type() -> None:
    assert answers(cc.MultilevelSensorGet(1, 0), cc.MultilevelSensorReport(1, 0, 1.0))
    assert not answers(cc.MultilevelSensorGet(1, 0), cc.MultilevelSensorReport(5, 0, 1.0))
    assert answers(cc.MultilevelSensorGet(), cc.MultilevelSensorReport(5, 0, 1.0))
    assert not answers(cc.VersionCommandClassGet(0x25), cc.VersionCommandClassReport(0x26, 1))
    assert not answers(cc.BinarySwitchGet(), cc.MultilevelSwitchReport(0))
    assert not answers(cc.BinarySwitchSet(0), cc.BinarySwitchReport(0))  # a Set expects no report
    assert answers(cc.SupervisionGet(5, cc.BasicSet(0)), cc.SupervisionReport(5, 0xFF))
    assert not answers(cc.SupervisionGet(5, cc.BasicSet(0)), cc.SupervisionReport(6, 0xFF))


@pytest.mark.parametrize(
    "bad",
    [[], {"ccs": []}, {"ccs": {"x": 1}}, {"scenes": True}, {"endpoints": {"1": 5}}, {"firmware": 3}],
)
def test_capabilities_from_bad_json_name_the_field(bad: object) -> None:
    with pytest.raises(ValueError, match=r"must be an object|expected"):
        NodeCapabilities.from_json(bad)


@pytest.mark.parametrize(
    ("command_class", "version", "expected"),
    [
        (CommandClass.MANUFACTURER_SPECIFIC, 2, ["7204"]),
        (CommandClass.BINARY_SWITCH, 2, ["2502"]),
        (CommandClass.MULTILEVEL_SWITCH, 4, ["2602"]),
        (CommandClass.BINARY_SENSOR, 1, ["3002"]),
        (CommandClass.BINARY_SENSOR, 2, ["3001"]),
        (CommandClass.MULTILEVEL_SENSOR, 4, ["3104"]),
        (CommandClass.MULTILEVEL_SENSOR, 11, ["3101"]),
        (CommandClass.METER, 1, ["3201"]),
        (CommandClass.METER, 3, ["3203"]),
        (CommandClass.NOTIFICATION, 1, []),  # v1 alarms cannot be asked what they support
        (CommandClass.NOTIFICATION, 8, ["7107"]),
        (CommandClass.DOOR_LOCK, 4, ["6202"]),
        (CommandClass.BATTERY, 1, ["8002"]),
        (CommandClass.THERMOSTAT_MODE, 3, ["4004", "4002"]),
        (CommandClass.THERMOSTAT_SETPOINT, 3, ["4304"]),
        (CommandClass.CENTRAL_SCENE, 3, ["5b01"]),
        (CommandClass.MULTI_CHANNEL, 2, []),  # Multi Instance (v1-2) is not supported
        (CommandClass.MULTI_CHANNEL, 4, ["6007"]),
        (CommandClass.WAKE_UP, 1, ["8405"]),
        (CommandClass.WAKE_UP, 2, ["8409", "8405"]),
        (CommandClass.ASSOCIATION, 2, ["8505", "850201"]),
        (CommandClass.CONFIGURATION, 4, []),  # parameters are device specific: nothing to ask blindly
        (CommandClass.VERSION, 3, ["8611", "861325", "861386"]),
    ],
)
def test_interview_queries_per_cc_and_version(command_class: int, version: int, expected: list[str]) -> None:
    caps = NodeCapabilities(ccs={0x25: 2, 0x86: 3})
    assert [q.to_bytes().hex() for q in interview_queries(command_class, version, caps)] == expected


def test_state_queries_ask_for_every_canonical_attribute() -> None:
    assert _hex(cc.state_queries(LOCK)) == ["6202", "8002"]
    assert _hex(cc.state_queries(THERMOSTAT)) == ["4002", "430201"]
    assert _hex(cc.state_queries(DIMMER)) == ["2602"]
    v1_sensor = NodeCapabilities(ccs={CommandClass.MULTILEVEL_SENSOR: 4, CommandClass.METER: 1})
    assert _hex(cc.state_queries(v1_sensor)) == ["3104", "3201"]


# --- Notification state: asked after the interview, idle means closed / inactive / dry ---

CONTACT = NodeCapabilities(
    ccs={CommandClass.NOTIFICATION: 8, CommandClass.BATTERY: 1}, notification_events={6: (0x16, 0x17)}
)
#: A v2 contact sensor: types known, events not (no Event Supported Get before v3).
CONTACT_V2 = NodeCapabilities(ccs={CommandClass.NOTIFICATION: 2}, notification_events={6: ()})
#: A lock that reports only through Notification (no Door Lock CC).
NOTIFYING_LOCK = NodeCapabilities(ccs={CommandClass.NOTIFICATION: 4}, notification_events={6: (1, 2, 0x0B)})


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (CONTACT, ["7104000600", "8002"]),  # v3+: type and event 0x00 (the type's pending state)
        (CONTACT_V2, ["71040006"]),  # the v2 Get has no event field
        (NOTIFYING_LOCK, ["7104000600"]),  # its bolt is known only from Access Control
        (LOCK, ["6202", "8002"]),  # Door Lock Operation Get tells the bolt; no stale lock event
        (NodeCapabilities(ccs={CommandClass.NOTIFICATION: 8}, notification_events={1: (2,)}), []),  # smoke
        (NodeCapabilities(ccs={CommandClass.NOTIFICATION: 1}, notification_events={6: ()}), []),  # v1
        (NodeCapabilities(ccs={CommandClass.NOTIFICATION: 8}, notification_events={7: (3,)}), []),  # tamper
    ],
)
def test_state_queries_ask_notification_types_that_give_state(
    caps: NodeCapabilities, expected: list[str]
) -> None:
    assert _hex(cc.state_queries(caps)) == expected
    # A refresh asks the same.
    assert _hex(command_to_ccs(_cmd(caps, "refresh"), caps)) == expected


@pytest.mark.parametrize(
    ("data", "caps", "expected"),
    [
        ("7105 000000ff 06 00 00", CONTACT, [("contact", "closed")]),  # idle: nothing open
        ("7105 000000ff 06 00 00", CONTACT_V2, [("contact", "closed")]),
        ("7105 000000ff 06 00 01 16", CONTACT, [("contact", "closed")]),  # "door open" ended
        ("7105 000000ff 06 00 01 16", LOCK, [("contact", "closed")]),  # ... says so on any node
        ("7105 000000ff 06 00 00", LOCK, []),  # a lock's idle says nothing about its bolt
        ("7105 000000ff 06 00 00", NOTIFYING_LOCK, []),
        ("7105 000000ff 06 00 01 0b", CONTACT, []),  # the end of a jam is no door state
        ("7105 000000ff 06 fe 00", CONTACT, [("contact", "closed")]),  # unknown: nothing pending
        ("7105 000000ff 06 16 00", CONTACT, [("contact", "open")]),
        ("7105 000000ff 06 17 00", CONTACT, [("contact", "closed")]),
        ("7105 000000ff 05 00 00", MULTISENSOR, [("water", "dry")]),
        ("7105 000000ff 05 fe 00", MULTISENSOR, [("water", "dry")]),
        ("7105 000000ff 07 fe 00", MULTISENSOR, [("motion", "inactive")]),
    ],
)
def test_notification_state_answers_map(data: str, caps: NodeCapabilities, expected: list[object]) -> None:
    assert _report(data, caps) == expected


def test_a_notification_get_is_answered_by_its_own_type_only() -> None:
    get = cc.NotificationGet(0, 6, 0)
    assert answers(get, cc.NotificationReport(0, 0, 6, 0x17))
    assert not answers(get, cc.NotificationReport(0, 0, 7, 0x08))  # a motion event meanwhile
    assert not answers(get, cc.NotificationReport(0x15, 0x01))  # a V1 alarm
    assert answers(cc.NotificationGet(0, 0xFF), cc.NotificationReport(0, 0, 5, 0x02))
