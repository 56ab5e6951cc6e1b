"""Notification CC state is known as soon as a node joins: contact, water and motion over the pty emulator.

After the interview the radio asks each notification type that gives a canonical attribute for its
pending state (Notification Get, v3+: type and event 0x00; v2: type only), so a door sensor shows
open/closed in its DeviceAdded, before its first event. Sleeping nodes are asked while awake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_core.model import Command, DeviceAdded, DeviceId, Value
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import (
    ASSOCIATION,
    BATTERY,
    MANUFACTURER_SPECIFIC,
    NOTIFICATION,
    VERSION,
    WAKE_UP,
    SimNode,
    household,
)
from radios.zwave import cc
from radios.zwave.messages import FunctionId, SendDataRequest
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)
CONTACT, LEAK, LOCK, MULTISENSOR = 6, 7, 5, 4


def sim(node_id: int, **state: Value) -> SimNode:
    """A household node, its state changed where given."""
    node = next(n for n in household() if n.node_id == node_id)
    node.state.update(state)
    return node


def asked(emulator: ZWaveEmulator, node_id: int) -> list[bytes]:
    return [
        SendDataRequest.from_payload(f.payload).data
        for f in emulator.frames_of(FunctionId.SEND_DATA)
        if f.payload[0] == node_id
    ]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[ZWaveRadio, ZWaveEmulator, EventLog]]:
    emulator = ZWaveEmulator()
    await emulator.start()
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log), emulator.port_path, timeouts=FAST, query_timeout=1.0)
    try:
        await radio.start()
        yield radio, emulator, log
    finally:
        await radio.stop()
        await emulator.stop()
    assert emulator.violations == []


async def join(rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog], *nodes: SimNode) -> dict[str, DeviceAdded]:
    radio, emulator, log = rig
    emulator.joining.extend(nodes)
    await radio.set_inclusion(10)
    added = {f"zwave-{n.node_id}": await log.added(f"zwave-{n.node_id}") for n in nodes}
    await radio.set_inclusion(0)
    await radio.settle()
    return added


@pytest.mark.parametrize(("contact", "water"), [("closed", "dry"), ("open", "wet")])
async def test_contact_and_leak_sensors_show_their_state_when_they_join(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog], contact: str, water: str
) -> None:
    _, emulator, _ = rig
    added = await join(rig, sim(CONTACT, contact=contact), sim(LEAK, water=water))
    door, leak = added["zwave-6"].device, added["zwave-7"].device
    assert door.capabilities == ("contact", "battery")
    assert dict(door.state) == {"contact": contact, "battery": 92}
    assert leak.capabilities == ("water", "battery")
    assert dict(leak.state) == {"water": water, "battery": 99}
    # v8 nodes are asked in the v3+ form: Access Control / Water Alarm, event 0x00 (pending state).
    assert cc.NotificationGet(0, 6, 0).to_bytes() in asked(emulator, CONTACT)
    assert cc.NotificationGet(0, 5, 0).to_bytes() in asked(emulator, LEAK)
    # "dry" is the Water Alarm's idle event (0x00): it maps too.
    if water == "dry":
        assert emulator.node(LEAK).reports_for("water")[0][6:8] == b"\x05\x00"


async def test_motion_is_known_and_a_lock_is_not_asked_about_its_bolt_by_notification(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    _, emulator, _ = rig
    added = await join(rig, sim(MULTISENSOR, motion="active"), sim(LOCK))
    assert added["zwave-4"].device.state["motion"] == "active"
    assert cc.NotificationGet(0, 7, 0).to_bytes() in asked(emulator, MULTISENSOR)
    # The lock's Access Control events are about its bolt: Door Lock Operation Get tells that.
    assert dict(added["zwave-5"].device.state) == {"lock": "locked", "battery": 76}
    assert not any(data[:2] == b"\x71\x04" for data in asked(emulator, LOCK))


async def test_a_v2_contact_sensor_is_asked_in_the_v2_form(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    _, emulator, _ = rig
    old = SimNode(
        CONTACT,
        "Old contact",
        "Sim contact v2",
        0x07,
        0x01,
        {NOTIFICATION: 2, BATTERY: 1, WAKE_UP: 2, MANUFACTURER_SPECIFIC: 2, VERSION: 3, ASSOCIATION: 2},
        {"contact": "open", "battery": 50},
        listening=False,
    )
    added = await join(rig, old)
    assert dict(added["zwave-6"].device.state) == {"contact": "open", "battery": 50}
    gets = [data for data in asked(emulator, CONTACT) if data[:2] == b"\x71\x04"]
    assert gets == [cc.NotificationGet(0, 6).to_bytes()]  # no event byte before v3


async def test_a_sleeping_sensor_is_asked_when_it_wakes_up(
    rig: tuple[ZWaveRadio, ZWaveEmulator, EventLog],
) -> None:
    # Already in the stick's network but unknown to us, and asleep: nothing is sent until it wakes.
    radio, emulator, log = rig
    await radio.stop()
    node = emulator.add_node(sim(CONTACT, contact="open"))
    node.awake = False
    await radio.start()
    await radio.settle()
    assert asked(emulator, CONTACT) == []
    node.wake_up()
    added = await log.added("zwave-6")
    assert added.device.state["contact"] == "open"
    await radio.settle()
    assert not node.awake  # sent back to sleep once asked
    # A refresh asks again, at the next wake-up: the door closed meanwhile without a report.
    node.state["contact"] = "closed"
    mark = log.mark()
    refresh = radio.execute(Command(DeviceId("zwave-6"), "refresh"))
    node.wake_up()  # its Wake Up Notification is read only once the refresh below waits for it
    await refresh
    await log.state("zwave-6", "contact", "closed", since=mark)
    await radio.settle()
