"""Interviews over the pty emulator, and their persistence across restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub_core.backoff import Backoff
from hub_core.model import Command, Device, DeviceAdded, DeviceId, DeviceRemoved, Protocol
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import SimNode, double_switch, household
from radios.zwave.cc import CommandClass
from radios.zwave.messages import FunctionId, SendDataRequest
from radios.zwave.node import NodeRecord, NodeStore
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)


def node(node_id: int) -> SimNode:
    return next(n for n in household() if n.node_id == node_id)


async def include(
    tmp_path: Path, emulator: ZWaveEmulator, sim: SimNode, log: EventLog | None = None
) -> tuple[ZWaveRadio, EventLog]:
    log = log or EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=1.0)
    await radio.start()
    emulator.joining.append(sim)
    await radio.set_inclusion(10)
    await log.added(f"zwave-{sim.node_id}")
    await radio.set_inclusion(0)
    await radio.settle()
    return radio, log


@pytest.fixture
async def emulator() -> ZWaveEmulator:
    emu = ZWaveEmulator()
    await emu.start()
    try:
        yield emu  # type: ignore[misc]
    finally:
        await emu.stop()


def asked(emulator: ZWaveEmulator, node_id: int) -> list[bytes]:
    return [
        SendDataRequest.from_payload(f.payload).data
        for f in emulator.frames_of(FunctionId.SEND_DATA)
        if f.payload[0] == node_id
    ]


@pytest.mark.parametrize(
    ("node_id", "capabilities", "must_ask"),
    [
        (2, ("switch", "power", "energy"), [b"\x32\x03", b"\x25\x02"]),  # meter supported, switch get
        (3, ("switch", "level"), [b"\x26\x02"]),
        (4, ("temperature", "humidity", "illuminance", "motion", "battery"), [b"\x31\x01", b"\x71\x07"]),
        (5, ("lock", "battery"), [b"\x62\x02", b"\x80\x02"]),
        (6, ("contact", "battery"), [b"\x71\x07", b"\x71\x01\x06"]),
        (8, ("temperature", "heating_setpoint", "thermostat_mode"), [b"\x40\x04", b"\x43\x04"]),
        (9, ("battery", "button"), [b"\x5b\x01"]),
    ],
)
async def test_interview_of_each_kind(
    tmp_path: Path,
    emulator: ZWaveEmulator,
    node_id: int,
    capabilities: tuple[str, ...],
    must_ask: list[bytes],
) -> None:
    sim = node(node_id)
    radio, log = await include(tmp_path, emulator, sim)
    try:
        added = await log.added(f"zwave-{node_id}")
        assert added.device.capabilities == capabilities
        record = radio.nodes[node_id]
        assert record.interviewed
        assert record.caps.manufacturer_id == sim.product[0]
        assert record.caps.version(CommandClass.VERSION) == 3
        questions = asked(emulator, node_id)
        assert questions[0][:2] == b"\x86\x11" or questions[0][:2] == b"\x86\x13"  # versions come first
        for question in must_ask:
            assert any(q.startswith(question) for q in questions), question
        # the lifeline points at the controller
        assert sim.associations.get(1) == [1]
    finally:
        await radio.stop()


async def test_sleeping_battery_node_interview(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    sim = node(6)
    radio, _ = await include(tmp_path, emulator, sim)
    try:
        record = radio.nodes[6]
        assert record.sleeping and record.interviewed
        assert sim.wakeup_interval == 3600
        assert record.caps.notification_events[0x06] == (0x16, 0x17)
        assert sim.received[-1] == b"\x84\x08"  # sent back to sleep
        assert not sim.awake
    finally:
        await radio.stop()


async def test_multi_channel_node_has_a_device_per_end_point(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    sim = double_switch(10)
    log = EventLog()
    radio, _ = await include(tmp_path, emulator, sim, log)
    try:
        for device in ("zwave-10-1", "zwave-10-2"):
            added = await log.added(device)
            assert added.device.capabilities == ("switch",)
        mark = log.mark()
        await radio.execute(Command(DeviceId("zwave-10-2"), "on"))
        assert sim.endpoint(2).state["switch"] == "on" and sim.endpoint(1).state["switch"] == "off"
        await log.state("zwave-10-2", "switch", "on", since=mark)
        # a report from an end point, on its own
        sim.endpoint(1).report("switch", "on")
        await log.state("zwave-10-1", "switch", "on", since=mark)
        # the command went Multi Channel encapsulated to end point 2
        assert b"\x60\x0d\x00\x02\x25\x01\xff" in asked(emulator, 10)
    finally:
        await radio.stop()


async def test_restart_does_not_reinterview(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    radio, _ = await include(tmp_path, emulator, node(3))
    assert radio.interviews == 1
    await radio.stop()
    stored = json.loads((tmp_path / f"zwave-{emulator.home_id:08x}.json").read_text())
    assert stored["nodes"]["3"]["interviewed"] is True
    questions_before = len(asked(emulator, 3))

    log = EventLog()
    again = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=1.0)
    await again.start()
    try:
        added = await log.added("zwave-3")
        assert added.device.capabilities == ("switch", "level")
        await again.settle()
        assert again.interviews == 0
        # only the refresh of current values went to the node, no interview questions
        new = asked(emulator, 3)[questions_before:]
        assert new == [b"\x26\x02"]
    finally:
        await again.stop()


async def test_node_removed_while_away_is_announced_removed(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    radio, _ = await include(tmp_path, emulator, node(3))
    await radio.stop()
    del emulator.nodes[3]  # reset by hand while the hub was off
    log = EventLog()
    again = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST)
    await again.start()
    try:
        await again.settle()
        assert 3 not in again.nodes
        assert log.of(DeviceAdded) == []
    finally:
        await again.stop()


async def test_uninterviewed_sleeping_node_is_interviewed_on_wake_up(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    sim = emulator.add_node(node(6))
    sim.awake = False
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=1.0)
    await radio.start()
    try:
        await radio.settle()
        assert not radio.nodes[6].interviewed
        assert asked(emulator, 6) == []
        sim.wake_up()
        await log.added("zwave-6")
        await radio.settle()
        assert radio.nodes[6].interviewed and not sim.awake
    finally:
        await radio.stop()


def test_node_store_roundtrip_and_atomic_replace(tmp_path: Path) -> None:
    store = NodeStore(tmp_path, 0xDEADBEEF)
    record = NodeRecord(7, listening=False, generic=0x07, interviewed=True)
    record.caps = record.caps.with_ccs([0x71, 0x80, 0x84])
    store.save({7: record})
    assert store.path.name == "zwave-deadbeef.json"
    loaded = store.load()
    assert loaded[7] == record
    assert not list(tmp_path.glob("*.tmp"))


def test_node_store_ignores_damage(tmp_path: Path) -> None:
    store = NodeStore(tmp_path, 1)
    assert store.load() == {}
    store.path.write_text("{not json")
    assert store.load() == {}
    store.path.write_text(json.dumps({"version": 99, "nodes": {}}))
    assert store.load() == {}
    good = NodeRecord(2, interviewed=True).to_json()
    store.path.write_text(json.dumps({"version": 1, "nodes": {"2": good, "3": {"listening": True}, "4": []}}))
    assert list(store.load()) == [2]


async def test_silent_node_is_not_marked_interviewed(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    sim = emulator.add_node(node(3))
    sim.mute = True  # it sends its NIF and acknowledges frames, but answers nothing
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=0.1)
    await radio.start()
    try:
        await radio.settle()
        assert not radio.nodes[3].interviewed
        assert log.of(DeviceAdded) == []
        assert not (tmp_path / f"zwave-{emulator.home_id:08x}.json").exists()
    finally:
        await radio.stop()


async def test_unplug_during_interview_leaves_it_to_be_redone(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    emulator.add_node(node(2))
    log = EventLog()
    radio = ZWaveRadio(
        RadioContext(tmp_path, log),
        emulator.port_path,
        timeouts=FAST,
        query_timeout=1.0,
        reconnect=Backoff(0.05, 0.05),
    )
    await radio.start()
    try:
        await emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
        emulator.unplug()
        await radio.settle()
        assert not radio.nodes[2].interviewed
        emulator.replug()
        await radio.wait_running(5)
        await log.added("zwave-2")
        await radio.settle()
        assert radio.nodes[2].interviewed
    finally:
        await radio.stop()


async def test_known_devices_missing_from_the_network_are_removed(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    known = {DeviceId(d): Device(DeviceId(d), Protocol.ZWAVE, d) for d in ("zwave-2", "zwave-9", "zwave-9-1")}
    emulator.add_node(node(2))
    log = EventLog()
    radio = ZWaveRadio(
        RadioContext(tmp_path, log, known), emulator.port_path, timeouts=FAST, query_timeout=0.5
    )
    await radio.start()
    try:
        await radio.settle()
        removed = sorted(e.device for e in log.of(DeviceRemoved))  # type: ignore[attr-defined]
        assert removed == ["zwave-9", "zwave-9-1"]
    finally:
        await radio.stop()


async def test_wake_up_during_the_first_protocol_info_is_not_lost(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    sim = emulator.add_node(node(6))
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=0.5)
    await radio.start()
    try:
        sim.wake_up()  # arrives while the radio asks the controller about node 6
        await log.added("zwave-6")
        await radio.settle()
        assert radio.nodes[6].interviewed and not sim.awake
    finally:
        await radio.stop()
