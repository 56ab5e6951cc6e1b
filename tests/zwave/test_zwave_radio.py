"""ZWaveRadio end to end over the pty emulator: execute -> node state changes -> report -> StateChanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_agent.config import ZWaveSection
from hub_agent.radio_registry import FACTORIES
from hub_core.errors import InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import ButtonPressed, Command, DeviceAdded, DeviceId, StateChanged
from hubtest.zwave_events import EventLog
from radios.base import RadioContext, RadioState
from radios.sim.zwave_radio import SimZWaveRadio
from radios.zwave.messages import FunctionId, SendDataRequest
from radios.zwave.radio import ZWaveRadio, parse_device_id
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)
HOUSEHOLD = [f"zwave-{n}" for n in range(2, 10)]


def cmd(device: str, name: str, **args: object) -> Command:
    return Command(DeviceId(device), name, args)  # type: ignore[arg-type]


async def included(tmp_path: Path, log: EventLog) -> SimZWaveRadio:
    ctx = RadioContext(tmp_path, log, state_reader=log.state_of)
    radio = SimZWaveRadio(ctx, timeouts=FAST, query_timeout=1.0)
    await radio.start()
    await radio.set_inclusion(30)
    for device in HOUSEHOLD:
        await log.added(device)
    await radio.set_inclusion(0)
    await radio.settle()
    return radio


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[tuple[SimZWaveRadio, EventLog]]:
    log = EventLog()
    radio = await included(tmp_path, log)
    try:
        yield radio, log
    finally:
        await radio.stop()
    # The host never sent a request while the stick was busy with another (INS12350 6.1).
    assert radio.emulator.violations == []


def sent_cc(radio: SimZWaveRadio, node: int) -> list[bytes]:
    return [
        SendDataRequest.from_payload(f.payload).data
        for f in radio.emulator.frames_of(FunctionId.SEND_DATA)
        if f.payload[0] == node
    ]


async def test_household_joins_with_descriptions_and_state(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    assert radio.state is RadioState.RUNNING
    devices = {e.device.id: e.device for e in log.of(DeviceAdded)}  # type: ignore[attr-defined]
    assert sorted(devices) == sorted(HOUSEHOLD)
    switch = devices["zwave-2"]
    assert switch.capabilities == ("switch", "power", "energy")
    assert switch.state == {"switch": "off", "power": 0.0, "energy": 3.5}
    assert switch.manufacturer == "Aeotec" and switch.model == "0003:0060"
    assert devices["zwave-3"].capabilities == ("switch", "level")
    assert set(devices["zwave-4"].capabilities) == {
        "temperature",
        "humidity",
        "illuminance",
        "motion",
        "battery",
    }
    assert devices["zwave-4"].state["temperature"] == 20.5
    assert devices["zwave-5"].capabilities == ("lock", "battery")
    assert devices["zwave-5"].state == {"lock": "locked", "battery": 76}
    assert devices["zwave-6"].capabilities == ("contact", "battery")
    assert devices["zwave-7"].capabilities == ("water", "battery")
    assert devices["zwave-8"].state["thermostat_mode"] == "heat"
    assert devices["zwave-9"].capabilities == ("battery", "button")


@pytest.mark.parametrize(
    ("device", "command", "args", "attribute", "value"),
    [
        ("zwave-2", "on", {}, "switch", "on"),
        ("zwave-3", "set_level", {"level": 40}, "level", 40),
        ("zwave-3", "set_level", {"level": 100, "duration": 2}, "level", 100),
        ("zwave-5", "unlock", {}, "lock", "unlocked"),
        ("zwave-8", "set_heating_setpoint", {"value": 22.5}, "heating_setpoint", 22.5),
        ("zwave-8", "set_thermostat_mode", {"mode": "cool"}, "thermostat_mode", "cool"),
    ],
)
async def test_execute_changes_the_node_and_the_report_comes_back(
    home: tuple[SimZWaveRadio, EventLog],
    device: str,
    command: str,
    args: dict[str, object],
    attribute: str,
    value: object,
) -> None:
    radio, log = home
    mark = log.mark()
    await radio.execute(cmd(device, command, **args))
    node = radio.emulator.node(parse_device_id(device)[0])
    assert node.state[attribute] == value
    await log.state(device, attribute, value, since=mark)  # type: ignore[arg-type]


async def test_off_and_toggle_and_refresh(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    await radio.execute(cmd("zwave-2", "on"))
    mark = log.mark()
    await radio.execute(cmd("zwave-2", "off"))
    await log.state("zwave-2", "switch", "off", since=mark)
    await log.state("zwave-2", "power", 0.0, since=mark)
    mark = log.mark()
    await radio.execute(cmd("zwave-2", "toggle"))
    await log.state("zwave-2", "switch", "on", since=mark)
    mark = log.mark()
    await radio.execute(cmd("zwave-2", "toggle"))
    await log.state("zwave-2", "switch", "off", since=mark)
    radio.emulator.node(2).state["energy"] = 4.25  # the meter moved on without telling us
    mark = log.mark()
    await radio.execute(cmd("zwave-2", "refresh"))
    await log.state("zwave-2", "energy", 4.25, since=mark)


async def test_supervised_set_waits_for_the_supervision_report(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    await radio.execute(cmd("zwave-5", "unlock"))
    before = len(sent_cc(radio, 5))
    mark = log.mark()
    await radio.execute(cmd("zwave-5", "lock"))
    await radio.settle()
    frames = sent_cc(radio, 5)[before:]
    # Door Lock Operation Set inside Supervision Get (0x6C 0x01); the node's SUCCESS confirmed it,
    # so no Door Lock Operation Get follows (issue 16): the Set's implied report is the new state.
    assert frames and frames[0][:2] == b"\x6c\x01" and frames[0][4:6] == b"\x62\x01"
    assert b"\x62\x02" not in frames
    await log.state("zwave-5", "lock", "locked", since=mark)
    assert radio.verifier.gets_saved >= 1


async def test_unsolicited_reports_and_buttons(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    mark = log.mark()
    radio.emulator.node(4).report("motion", "active")
    await log.state("zwave-4", "motion", "active", since=mark)
    radio.emulator.node(6).report("contact", "open")
    await log.state("zwave-6", "contact", "open", since=mark)
    radio.emulator.node(7).report("water", "wet")
    await log.state("zwave-7", "water", "wet", since=mark)
    radio.emulator.node(4).report("temperature", 23.4)
    await log.state("zwave-4", "temperature", 23.4, since=mark)
    radio.emulator.node(9).press(2, "held")
    event = await log.wait_for(lambda e: isinstance(e, ButtonPressed), since=mark)
    assert isinstance(event, ButtonPressed)
    assert (event.device, event.button, event.action) == ("zwave-9", 2, "held")


async def test_lock_jammed_notification(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    mark = log.mark()
    radio.emulator.node(5).report("lock", "jammed")
    await log.state("zwave-5", "lock", "jammed", since=mark)


async def test_sleeping_node_commands_wait_for_wake_up(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    node = radio.emulator.node(4)
    assert not node.awake  # sent back to sleep after its interview
    assert node.received[-1] == b"\x84\x08"  # Wake Up No More Information
    assert node.wakeup_interval == 3600 and node.associations.get(1) == [1]
    pending = asyncio.ensure_future(radio.execute(cmd("zwave-4", "refresh")))
    await radio.execute(cmd("zwave-2", "on"))  # a whole round trip with another node meanwhile
    assert not pending.done()
    assert sent_cc(radio, 4)[-1] == b"\x84\x08"  # nothing was sent to the sleeping node
    mark = log.mark()
    node.state["battery"] = 55
    node.wake_up()
    await asyncio.wait_for(pending, 5)
    await log.state("zwave-4", "battery", 55, since=mark)
    await radio.settle()
    assert node.received[-1] == b"\x84\x08" and not node.awake


async def test_invalid_and_undeliverable_commands(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, _ = home
    with pytest.raises(InvalidCommand):
        await radio.execute(cmd("zwave-6", "on"))  # a contact sensor has no switch
    with pytest.raises(InvalidCommand):
        await radio.execute(cmd("zigbee-1", "on"))
    with pytest.raises(UnknownDevice, match="not in this Z-Wave network"):
        await radio.execute(cmd("zwave-77", "on"))  # radios/base.py: a device this radio does not serve
    with pytest.raises(UnknownDevice, match="no end point 7"):
        await radio.execute(cmd("zwave-2-7", "on"))


async def test_registry_sim_port_is_our_stack_over_the_emulator(tmp_path: Path) -> None:
    _, factory = FACTORIES["zwave"]
    radio = factory(ZWaveSection(port="sim"), RadioContext(tmp_path, EventLog()))
    assert isinstance(radio, SimZWaveRadio) and isinstance(radio, ZWaveRadio)
    other = factory(ZWaveSection(port="socket://127.0.0.1:1"), RadioContext(tmp_path, EventLog()))
    assert type(other) is ZWaveRadio and other.port == "socket://127.0.0.1:1"
    with pytest.raises(RadioUnavailable):
        await other.start()
    assert other.state is RadioState.STOPPED


async def test_device_id_parsing() -> None:
    assert parse_device_id("zwave-5") == (5, 0)
    assert parse_device_id("zwave-5-2") == (5, 2)
    for bad in ("zwave-0", "zwave-300", "zwave-x", "zigbee-5", "zwave-5-2-1", "zwave-5-200"):
        with pytest.raises(ValueError):
            parse_device_id(bad)


async def test_state_changes_report_previous_free(home: tuple[SimZWaveRadio, EventLog]) -> None:
    radio, log = home
    mark = log.mark()
    await radio.execute(cmd("zwave-3", "on"))
    event = await log.state("zwave-3", "switch", "on", since=mark)
    assert isinstance(event, StateChanged) and event.previous is None


async def test_timed_out_command_to_a_sleeping_node_does_not_keep_it_awake(
    home: tuple[SimZWaveRadio, EventLog],
) -> None:
    radio, _ = home
    node = radio.emulator.node(6)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(radio.execute(cmd("zwave-6", "refresh")), 0.05)
    node.wake_up()
    no_more = await radio.emulator.wait_for_frame(
        lambda f: f.function == FunctionId.SEND_DATA and f.payload[0] == 6
    )
    assert SendDataRequest.from_payload(no_more.payload).data == b"\x84\x08"
    await radio.settle()
    assert not node.awake
