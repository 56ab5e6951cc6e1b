"""Our Z-Wave stack (ZWaveRadio over socket://) against zwave-js's MockController and MockNodes.

Nodes join through real inclusion (AddNodeToNetwork), one at a time, and are interviewed; then
canonical commands go through `execute()` and must change the mock node's state, and the report
that comes back must become canonical state. Unsolicited reports, sleeping nodes, exclusion, a
restart that must not re-interview, and the peer vanishing mid-transaction are covered too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from zwave_peer import ZWavePeer, household, household_node

from hub_agent.hub import Hub
from hub_core.bus import EventBus
from hub_core.errors import CommandError
from hub_core.model import (
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceEvent,
    DeviceId,
    DeviceRemoved,
    StateChanged,
    Value,
    make_command,
)
from radios.base import RadioContext, RadioState
from radios.zwave import cc
from radios.zwave.radio import ZWaveRadio

pytestmark = pytest.mark.peer

WAIT = 10.0


class Events:
    """Every event the radio emitted, and a way to await the next one that matches."""

    def __init__(self) -> None:
        self.seen: list[DeviceEvent] = []
        self._changed = asyncio.Event()
        # The real hub holds reports from before a device's announcement and knows last state.
        self.hub = Hub(EventBus())

    def __call__(self, event: DeviceEvent) -> None:
        self.hub.ingest(event)
        if isinstance(event, DeviceAdded):
            device = self.hub.device(event.device.id)
            event = event if device is None else replace(event, device=device)
        self.seen.append(event)
        self._changed.set()

    def mark(self) -> int:
        """A position; `wait_for(after=...)` looks only at events after it."""
        return len(self.seen)

    async def wait_for(
        self, predicate: Callable[[DeviceEvent], bool], after: int = 0, timeout: float = WAIT
    ) -> DeviceEvent:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.seen[after:]:
                    if predicate(event):
                        return event
                after = len(self.seen)
                self._changed.clear()
                await self._changed.wait()

    async def state(self, device: str, attribute: str, value: Value, after: int = 0) -> StateChanged:
        """The first StateChanged after `after` that sets `device`'s `attribute` to `value`."""
        event = await self.wait_for(
            lambda e: (
                isinstance(e, StateChanged)
                and e.device == device
                and e.attribute == attribute
                and e.value == value
            ),
            after,
        )
        assert isinstance(event, StateChanged)
        return event


class Home:
    """A running ZWaveRadio on the peer, and helpers to include nodes and run commands."""

    def __init__(self, peer: ZWavePeer, data_dir: Path) -> None:
        self.peer = peer
        self.data_dir = data_dir
        self.events = Events()
        ctx = RadioContext(data_dir, self.events, state_reader=self.events.hub.state_of)
        self.radio = ZWaveRadio(ctx, peer.url)
        self.devices: dict[str, Device] = {}

    async def include(self, kind: str) -> Device:
        """Include the household node of this kind; return its announced device."""
        node = household_node(kind)
        await self.radio.set_inclusion(0)
        await self.radio.settle()
        mark = self.events.mark()
        await self.peer.include(node)
        await self.radio.set_inclusion(30)
        device_id = f"zwave-{node['id']}"
        event = await self.events.wait_for(
            lambda e: isinstance(e, DeviceAdded) and e.device.id == device_id, mark
        )
        await self.radio.set_inclusion(0)
        await self.radio.settle()
        assert isinstance(event, DeviceAdded)
        self.devices[device_id] = event.device
        return event.device

    async def execute(self, device: str, name: str, args: dict[str, Any] | None = None) -> None:
        command: Command = make_command(self.devices[device], name, args)
        async with asyncio.timeout(WAIT):
            await self.radio.execute(command)


@pytest.fixture
async def home(zwave_empty_peer: ZWavePeer, tmp_path: Path) -> AsyncIterator[Home]:
    """An empty network (nodes join by inclusion) with our radio running on it."""
    home = Home(zwave_empty_peer, tmp_path)
    await home.radio.start()
    try:
        yield home
    finally:
        await home.radio.stop()
    # Our host must never make zwave-js's mock refuse a request (e.g. one sent while it is busy).
    assert zwave_empty_peer.errors() == []


# --- interview of each node kind -----------------------------------------------------------------

KINDS: dict[str, tuple[tuple[str, ...], dict[str, Value], str]] = {
    # kind: (capabilities, state after the interview, manufacturer)
    "switch": (("switch", "power", "energy"), {"switch": "off", "power": 12.5, "energy": 1.5}, "Aeotec"),
    "dimmer": (("switch", "level", "button"), {"switch": "off", "level": 0}, "Aeotec"),
    "multisensor": (
        ("temperature", "humidity", "illuminance", "motion", "battery"),
        {"temperature": 21.5, "humidity": 45.0, "illuminance": 120.0, "motion": "inactive", "battery": 90},
        "Aeotec",
    ),
    "lock": (("lock", "battery"), {"lock": "unlocked", "battery": 90}, "Kwikset"),
    "notification_sensor": (
        ("contact", "motion", "water", "battery"),
        # Asked with Notification Get after the interview: every type idle (event 0x00).
        {"contact": "closed", "motion": "inactive", "water": "dry", "battery": 90},
        "0x0371",
    ),
    "sleeper": (("contact", "battery"), {"contact": "closed", "battery": 90}, "0x0371"),
    "thermostat": (
        ("heating_setpoint", "thermostat_mode"),
        {"heating_setpoint": 20.0, "thermostat_mode": "off"},
        "",
    ),
}


async def test_inclusion_interviews_every_node_kind(home: Home) -> None:
    # One network, nodes joining one after another, as a household would add them.
    for kind, (capabilities, state, manufacturer) in KINDS.items():
        device = await home.include(kind)
        node = household_node(kind)
        assert device.capabilities == capabilities, kind
        assert dict(device.state) == state, kind
        caps = node["capabilities"]
        assert device.model == f"{caps['productType']:04x}:{caps['productId']:04x}", kind
        if manufacturer:
            assert device.manufacturer == manufacturer, kind
        assert device.online, kind
        # The lifeline points at us, so the node's unsolicited reports reach the hub.
        assert await home.peer.get_state(node["id"], "Association_1") == [1], kind
    assert sorted(home.radio.nodes) == [2, 3, 4, 5, 6, 7, 8]


async def test_a_restart_announces_known_nodes_without_a_new_interview(home: Home) -> None:
    await home.include("switch")
    await home.include("multisensor")
    await home.radio.stop()
    again = ZWaveRadio(RadioContext(home.data_dir, Events()), home.peer.url)
    await again.start()
    try:
        await again.settle()
        assert again.interviews == 0
        assert sorted(again.nodes) == [2, 4]
    finally:
        await again.stop()


async def test_start_up_interviews_the_whole_household_and_a_sleeper_on_its_wake_up(
    zwave_peer: ZWavePeer, tmp_path: Path
) -> None:
    # The stick already has the whole household (no inclusion) and we know none of it: start-up
    # interviews every listening node at once. The stick takes one request at a time, a
    # RequestNodeInfo until its NIF is in, so the mock must refuse nothing and nobody may time out.
    events = Events()
    radio = ZWaveRadio(RadioContext(tmp_path, events), zwave_peer.url)
    await radio.start()
    try:
        async with asyncio.timeout(30):
            await radio.settle()
        added = {e.device.id: e.device for e in events.seen if isinstance(e, DeviceAdded)}
        assert zwave_peer.errors() == []
        listening = {f"zwave-{n['id']}" for n in household() if n["kind"] != "sleeper"}
        assert sorted(added) == sorted(listening | {"zwave-9-1", "zwave-9-2"})
        for kind, (capabilities, _, _) in KINDS.items():
            if kind != "sleeper":
                assert added[f"zwave-{household_node(kind)['id']}"].capabilities == capabilities, kind
        assert added["zwave-9-1"].capabilities == added["zwave-9-2"].capabilities == ("switch",)
        assert radio.interviews == len(listening)
        # The sleeper is interviewed when it wakes up, not before.
        mark = events.mark()
        await zwave_peer.wakeup(7)
        sleeper = await events.wait_for(
            lambda e: isinstance(e, DeviceAdded) and e.device.id == "zwave-7", mark
        )
        assert isinstance(sleeper, DeviceAdded) and sleeper.device.capabilities == ("contact", "battery")
        await radio.settle()
        assert (await zwave_peer.received(7))[-1] == cc.WakeUpNoMoreInformation().to_bytes()
    finally:
        await radio.stop()
    assert zwave_peer.errors() == []


async def test_notification_state_is_known_when_a_sensor_is_first_interviewed(
    zwave_empty_peer: ZWavePeer, tmp_path: Path
) -> None:
    # The door is open and there is a leak before we ever hear of the node: zwave-js's mock answers
    # our Notification Gets (v3+ form: type, event 0x00) with those pending events.
    sensor = household_node("notification_sensor")
    zwave_empty_peer.reset([sensor])
    await zwave_empty_peer.set_state(6, "Notification_6", 0x16)  # Access Control: window/door open
    await zwave_empty_peer.set_state(6, "Notification_5", 0x02)  # Water Alarm: leak detected
    events = Events()
    radio = ZWaveRadio(RadioContext(tmp_path, events), zwave_empty_peer.url)
    await radio.start()
    try:
        added = await events.wait_for(lambda e: isinstance(e, DeviceAdded) and e.device.id == "zwave-6")
        assert isinstance(added, DeviceAdded)
        assert dict(added.device.state) == {
            "contact": "open",
            "water": "wet",
            "motion": "inactive",
            "battery": 90,
        }
        sent = await zwave_empty_peer.received(6)
        for ntype in (5, 6, 7):
            assert cc.NotificationGet(0, ntype, 0).to_bytes() in sent, ntype
        # The door closes (v3+ event 0x17) and the leak dries up (idle) without a report: a refresh asks.
        await radio.settle()
        await zwave_empty_peer.set_state(6, "Notification_6", 0x17)
        await zwave_empty_peer.set_state(6, "Notification_5", 0x00)
        mark = events.mark()
        async with asyncio.timeout(WAIT):
            await radio.execute(Command(DeviceId("zwave-6"), "refresh"))
        await events.state("zwave-6", "contact", "closed", mark)
        await events.state("zwave-6", "water", "dry", mark)
        # Battery is asked last: once its report is in, the mock has nothing left in flight to us.
        await events.state("zwave-6", "battery", 90, mark)
    finally:
        await radio.stop()
    assert zwave_empty_peer.errors() == []


# --- every mapped command, round-tripped -----------------------------------------------------------


async def test_switch_commands_change_the_mock_and_the_report_comes_back(home: Home) -> None:
    await home.include("switch")
    mark = home.events.mark()
    await home.execute("zwave-2", "on")
    assert await home.peer.get_state(2, "BinarySwitch_currentValue") is True
    await home.events.state("zwave-2", "switch", "on", mark)
    mark = home.events.mark()
    await home.execute("zwave-2", "off")
    assert await home.peer.get_state(2, "BinarySwitch_currentValue") is False
    await home.events.state("zwave-2", "switch", "off", mark)
    # The radio confirmed through Supervision: the node said it carried the Set out.
    supervised = [cc.unwrap(cc.parse_cc(b)) for b in await home.peer.received(2)]
    assert any(e.command == cc.BinarySwitchSet(0xFF) and e.supervision_session for e in supervised)
    # A command the node cannot do is refused before anything is sent.
    with pytest.raises(CommandError, match="no Door Lock command class"):
        await home.radio.execute(Command(DeviceId("zwave-2"), "lock"))
    assert cc.DoorLockOperationSet(0xFF).to_bytes() not in await home.peer.received(2)


async def test_toggle_flips_the_known_state(home: Home) -> None:
    await home.include("switch")
    mark = home.events.mark()
    await home.execute("zwave-2", "toggle")
    assert await home.peer.get_state(2, "BinarySwitch_currentValue") is True
    await home.events.state("zwave-2", "switch", "on", mark)


async def test_multi_channel_end_points_are_devices_of_their_own(home: Home) -> None:
    await home.include("double_switch")
    await home.radio.settle()
    added: dict[str, Device] = {e.device.id: e.device for e in home.events.seen if isinstance(e, DeviceAdded)}
    assert added["zwave-9-1"].capabilities == ("switch",)
    assert added["zwave-9-2"].capabilities == ("switch",)
    home.devices.update(added)
    mark = home.events.mark()
    await home.execute("zwave-9-2", "on")
    # The Set went to end point 2 (Multi Channel encapsulation), and end point 2's report came back.
    sent = [cc.parse_cc(b) for b in await home.peer.received(9)]
    assert cc.MultiChannelCommandEncapsulation(0, 2, cc.BinarySwitchSet(0xFF)) in sent, sent
    await home.events.state("zwave-9-2", "switch", "on", mark)


async def test_dimmer_levels_and_durations(home: Home) -> None:
    await home.include("dimmer")
    mark = home.events.mark()
    await home.execute("zwave-3", "set_level", {"level": 40, "duration": 0})
    assert await home.peer.get_state(3, "MultilevelSwitch_currentValue") == 40
    await home.events.state("zwave-3", "level", 40, mark)
    mark = home.events.mark()
    await home.execute("zwave-3", "set_level", {"level": 100})
    assert await home.peer.get_state(3, "MultilevelSwitch_currentValue") == 99  # 99 is full on
    await home.events.state("zwave-3", "level", 100, mark)
    mark = home.events.mark()
    await home.execute("zwave-3", "off")
    assert await home.peer.get_state(3, "MultilevelSwitch_currentValue") == 0
    await home.events.state("zwave-3", "switch", "off", mark)


async def test_lock_and_unlock(home: Home) -> None:
    await home.include("lock")
    mark = home.events.mark()
    await home.execute("zwave-5", "lock")
    assert await home.peer.get_state(5, "DoorLock_currentMode") == 0xFF
    await home.events.state("zwave-5", "lock", "locked", mark)
    mark = home.events.mark()
    await home.execute("zwave-5", "unlock")
    assert await home.peer.get_state(5, "DoorLock_currentMode") == 0
    await home.events.state("zwave-5", "lock", "unlocked", mark)


async def test_thermostat_setpoint_and_mode(home: Home) -> None:
    await home.include("thermostat")
    mark = home.events.mark()
    await home.execute("zwave-8", "set_heating_setpoint", {"value": 22.5})
    assert await home.peer.get_state(8, "ThermostatSetpoint_setpoint_1") == 22.5
    await home.events.state("zwave-8", "heating_setpoint", 22.5, mark)
    mark = home.events.mark()
    await home.execute("zwave-8", "set_thermostat_mode", {"mode": "heat"})
    assert await home.peer.get_state(8, "ThermostatMode_mode") == 1
    await home.events.state("zwave-8", "thermostat_mode", "heat", mark)


async def test_refresh_reads_changed_sensor_values(home: Home) -> None:
    await home.include("multisensor")
    await home.peer.set_state(4, "Sensor_1_0", 19.25)
    await home.peer.set_state(4, "BinarySensor_12", True)
    await home.peer.set_state(4, "Battery_level", 40)
    mark = home.events.mark()
    await home.execute("zwave-4", "refresh")
    await home.events.state("zwave-4", "temperature", 19.25, mark)
    await home.events.state("zwave-4", "motion", "active", mark)
    await home.events.state("zwave-4", "battery", 40, mark)


# --- unsolicited reports ----------------------------------------------------------------------------


async def test_unsolicited_reports_become_canonical_events(home: Home) -> None:
    await home.include("notification_sensor")
    await home.include("dimmer")
    await home.include("lock")
    cases: list[tuple[int, cc.CCCommand, str, str, Value]] = [
        (6, cc.NotificationReport(0, 0, 7, 8), "zwave-6", "motion", "active"),
        (6, cc.NotificationReport(0, 0, 7, 0, params=b"\x08"), "zwave-6", "motion", "inactive"),
        (6, cc.NotificationReport(0, 0, 5, 2), "zwave-6", "water", "wet"),
        (6, cc.NotificationReport(0, 0, 6, 0x16), "zwave-6", "contact", "open"),
        (5, cc.NotificationReport(0, 0, 6, 0x0B), "zwave-5", "lock", "jammed"),
        (5, cc.NotificationReport(0, 0, 6, 0x01), "zwave-5", "lock", "locked"),
        (3, cc.MultilevelSwitchReport(30), "zwave-3", "level", 30),
        (6, cc.BatteryReport(0xFF), "zwave-6", "battery", 0),
    ]
    for node, report, device, attribute, value in cases:
        mark = home.events.mark()
        await home.peer.report(node, report.to_bytes())
        await home.events.state(device, attribute, value, mark)
    mark = home.events.mark()
    await home.peer.report(3, cc.CentralSceneNotification(1, 3, 2).to_bytes())
    button = await home.events.wait_for(lambda e: isinstance(e, ButtonPressed), mark)
    assert isinstance(button, ButtonPressed)
    assert (button.device, button.button, button.action) == ("zwave-3", 2, "double")


# --- sleeping nodes ---------------------------------------------------------------------------------


async def test_commands_to_a_sleeping_node_wait_for_its_wake_up(home: Home) -> None:
    await home.include("sleeper")
    await home.peer.set_state(7, "Battery_level", 33)
    await home.peer.set_state(7, "BinarySensor_10", True)
    mark = home.events.mark()
    pending = asyncio.create_task(home.execute("zwave-7", "refresh"))
    try:
        await asyncio.sleep(0)
        assert not pending.done()  # queued until the node wakes up
        await home.peer.wakeup(7)
        await pending
    finally:
        pending.cancel()
    await home.events.state("zwave-7", "battery", 33, mark)
    await home.events.state("zwave-7", "contact", "open", mark)
    await home.radio.settle()
    # ... and it was sent back to sleep once nothing was left for it.
    assert (await home.peer.received(7))[-1] == cc.WakeUpNoMoreInformation().to_bytes()
    assert await home.peer.get_state(7, "WakeUp_node") == 1


# --- exclusion ----------------------------------------------------------------------------------------


async def test_exclusion_removes_the_device(home: Home) -> None:
    await home.include("switch")
    await home.include("lock")
    mark = home.events.mark()
    await home.peer.exclude(5)
    await home.radio.remove_device(DeviceId("zwave-5"))
    removed = await home.events.wait_for(lambda e: isinstance(e, DeviceRemoved), mark)
    assert isinstance(removed, DeviceRemoved) and removed.device == "zwave-5"
    assert await home.peer.nodes() == [2]
    await home.radio.settle()
    assert 5 not in home.radio.nodes


# --- the peer vanishing mid-transaction ------------------------------------------------------------------


async def test_the_peer_vanishing_mid_transaction_and_returning(home: Home) -> None:
    await home.include("switch")
    await home.peer.vanish_on_send(2, 1500)
    # The stick vanishes with our SendData in flight: the command fails with a clear error or is
    # retried once after the reconnect; it never hangs.
    try:
        await home.execute("zwave-2", "on")
    except CommandError as exc:
        # The error names the device (the link layer below knows only the port).
        assert exc.device == "zwave-2" and "zwave-2" in str(exc), exc
    await home.peer.wait_listening()
    await home.radio.wait_running(WAIT)
    assert home.radio.state is RadioState.RUNNING
    mark = home.events.mark()
    await home.execute("zwave-2", "off")
    assert await home.peer.get_state(2, "BinarySwitch_currentValue") is False
    await home.events.state("zwave-2", "switch", "off", mark)
    assert home.radio.reconnects >= 1
    await home.radio.settle()
