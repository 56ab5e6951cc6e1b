"""The hub core: registry updates from radio events, and the command path through a radio."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from hub_agent.hub import MAX_EARLY_DEVICES, Hub, StatePersister
from hub_agent.store import Database
from hub_agent.store.devices import load_devices
from hub_core.bus import EventBus
from hub_core.errors import DeliveryFailed, DeliveryTimeout, InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import (
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    DeviceOnline,
    DeviceRemoved,
    HubEvent,
    Protocol,
    StateChanged,
    make_command,
)
from radios.base import Radio, RadioContext, RadioState
from radios.sim.household import SimRadio

DIMMER = DeviceId("zwave-3")


class SilentRadio(Radio):
    """The edge: a radio whose devices never confirm anything."""

    protocol = Protocol.ZWAVE

    async def start(self) -> None:
        self.state = RadioState.RUNNING

    async def stop(self) -> None:
        self.state = RadioState.STOPPED

    async def execute(self, command: Command) -> None:
        await asyncio.Event().wait()

    async def set_inclusion(self, seconds: float) -> None:
        pass


async def started_hub(tmp_path: Path) -> tuple[Hub, SimRadio, list[HubEvent]]:
    bus = EventBus()
    hub = Hub(bus)
    seen: list[HubEvent] = []
    bus.add_handler(seen.append)
    radio = SimRadio(Protocol.ZWAVE, RadioContext(tmp_path, hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    await radio.set_inclusion(5)
    while hub.device("zwave-8") is None:  # the last of the household
        await asyncio.sleep(0)
    await radio.set_inclusion(0)
    return hub, radio, seen


async def test_inclusion_adds_the_household_with_state(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    assert [d.id for d in hub.devices()][:3] == ["zwave-2", "zwave-3", "zwave-4"]
    assert hub.device("zwave-5").state["lock"] == "locked"  # type: ignore[union-attr]
    assert sum(isinstance(e, DeviceAdded) for e in seen) == 7
    await radio.stop()


async def test_a_command_changes_the_device_and_the_report_updates_state(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    result = await hub.execute("zwave-3", "set_level", {"level": 30})
    assert result.status == "ok" and result.ms >= 0
    while hub.device("zwave-3").state.get("level") != 30:  # type: ignore[union-attr]
        await asyncio.sleep(0)
    changes = [e for e in seen if isinstance(e, StateChanged) and e.device == DIMMER]
    assert [(e.attribute, e.value, e.previous) for e in changes] == [
        ("level", 30, 0),
        ("switch", "on", "off"),
    ]
    assert hub.commands_ok == 1
    await radio.stop()


async def test_command_errors_are_typed(tmp_path: Path) -> None:
    hub, radio, _ = await started_hub(tmp_path)
    with pytest.raises(UnknownDevice):
        await hub.execute("zwave-99", "on")
    with pytest.raises(InvalidCommand, match="does not support 'lock'"):
        await hub.execute("zwave-3", "lock")
    radio.devices[DIMMER].reachable = False
    with pytest.raises(DeliveryFailed, match="did not acknowledge"):
        await hub.execute("zwave-3", "on")
    await radio.stop()
    with pytest.raises(RadioUnavailable, match="zwave radio is stopped"):
        await hub.execute("zwave-3", "on")
    assert hub.commands_failed == 2


async def test_no_confirmation_in_time_is_a_timeout(tmp_path: Path) -> None:
    hub = Hub(EventBus())
    radio = SilentRadio(RadioContext(tmp_path, hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    hub.ingest(DeviceAdded(Device(DIMMER, Protocol.ZWAVE, "d", capabilities=("switch",))))
    with pytest.raises(DeliveryTimeout) as caught:
        await hub.execute("zwave-3", "on", timeout=0.01)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.code == "timeout"


async def test_invalid_radio_events_are_dropped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    before = len(seen)
    hub.ingest(StateChanged(DeviceId("zwave-99"), "switch", "wobbly"))
    hub.ingest(StateChanged(DIMMER, "level", 150))
    hub.ingest(ButtonPressed(DeviceId("zwave-77"), 1, "pressed"))
    assert len(seen) == before
    assert hub.events_rejected == 3
    assert "level must be at most 100" in caplog.text
    await radio.stop()


async def test_a_report_before_its_announcement_is_folded_into_it(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    early = DeviceId("zwave-42")
    hub.ingest(StateChanged(early, "switch", "on"))
    hub.ingest(StateChanged(early, "level", 40))
    assert hub.device(early) is None
    assert hub.state_of(early) == {"switch": "on", "level": 40}
    announced = Device(early, Protocol.ZWAVE, "Early", capabilities=("switch", "level"), state={"level": 60})
    hub.ingest(DeviceAdded(announced))
    added = [e for e in seen if isinstance(e, DeviceAdded) and e.device.id == early]
    # The announcement's own value is the newer one; the early report fills the gap.
    assert added[-1].device.state == {"switch": "on", "level": 60}
    assert hub.device(early).state == {"switch": "on", "level": 60}  # type: ignore[union-attr]
    await radio.stop()


async def test_early_reports_are_bounded(tmp_path: Path) -> None:
    hub, radio, _ = await started_hub(tmp_path)
    for n in range(MAX_EARLY_DEVICES + 5):
        hub.ingest(StateChanged(DeviceId(f"zwave-{1000 + n}"), "switch", "on"))
    assert hub.early_dropped == 5
    assert hub.state_of(DeviceId("zwave-1000")) == {}  # the oldest went first
    assert hub.state_of(DeviceId(f"zwave-{1000 + MAX_EARLY_DEVICES + 4}")) == {"switch": "on"}
    await radio.stop()


async def test_online_and_removal(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    hub.ingest(DeviceOnline(DIMMER, False))
    hub.ingest(DeviceOnline(DIMMER, False))  # no change, no event
    assert hub.device("zwave-3").online is False  # type: ignore[union-attr]
    assert sum(isinstance(e, DeviceOnline) for e in seen) == 1
    hub.ingest(StateChanged(DIMMER, "level", 5))  # hearing from it brings it back
    assert hub.device("zwave-3").online is True  # type: ignore[union-attr]
    await hub.remove_device("zwave-3")
    assert hub.device("zwave-3") is None
    assert isinstance(seen[-1], DeviceRemoved)
    await radio.stop()


async def test_the_persister_keeps_last_known_state_off_the_hot_path(tmp_path: Path) -> None:
    db = Database(tmp_path / "hub.sqlite3")
    hub, radio, _ = await started_hub(tmp_path)
    persister = StatePersister(hub.bus, db)
    task = asyncio.ensure_future(persister.run())
    hub.ingest(DeviceAdded(Device(DeviceId("zwave-20"), Protocol.ZWAVE, "New", capabilities=("switch",))))
    hub.ingest(StateChanged(DeviceId("zwave-20"), "switch", "on"))
    hub.ingest(DeviceRemoved(DeviceId("zwave-2")))
    while len(persister._subscription):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await radio.stop()
    await db.close()
    reopened = Database(tmp_path / "hub.sqlite3")
    stored = {d.id: d for d in reopened.read_now(load_devices)}
    reopened.close_now()
    assert stored[DeviceId("zwave-20")].state == {"switch": "on"}
    assert DeviceId("zwave-2") not in stored


async def test_a_known_device_reannounced_is_not_news_but_its_fresh_state_is(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    before = len(seen)
    known = hub.device("zwave-3")
    assert known is not None
    hub.ingest(DeviceAdded(replace(known, state={"level": 0, "switch": "on"})))
    assert [(type(e).__name__, getattr(e, "attribute", None)) for e in seen[before:]] == [
        ("StateChanged", "switch")
    ]
    hub.ingest(DeviceAdded(replace(known, name="Renamed dimmer", state={})))
    assert isinstance(seen[-1], DeviceAdded) and seen[-1].device.name == "Renamed dimmer"
    assert seen[-1].device.state["switch"] == "on"  # the state known so far is kept
    await radio.stop()


async def test_a_repeated_value_is_not_a_change_but_proves_the_device_is_there(tmp_path: Path) -> None:
    hub, radio, seen = await started_hub(tmp_path)
    before = len(seen)
    hub.ingest(StateChanged(DIMMER, "level", 0))  # the value it already has
    assert seen[before:] == []
    hub.ingest(DeviceOnline(DIMMER, False))
    hub.ingest(StateChanged(DIMMER, "level", 0))
    assert [type(e).__name__ for e in seen[before:]] == ["DeviceOnline", "DeviceOnline"]
    assert hub.device("zwave-3").online is True  # type: ignore[union-attr]
    await radio.stop()


async def test_a_scene_is_sent_together_per_radio_and_counted(tmp_path: Path) -> None:
    hub, radio, _ = await started_hub(tmp_path)
    ble = SimRadio(Protocol.BLE, RadioContext(tmp_path, hub.ingest))
    hub.radios[Protocol.BLE] = ble
    await ble.start()
    await ble.set_inclusion(5)
    while hub.device("ble-a4c138000002") is None:
        await asyncio.sleep(0)
    scene = [
        make_command(hub.device("zwave-2"), "on"),  # type: ignore[arg-type]
        make_command(hub.device("zwave-3"), "set_level", {"level": 20}),  # type: ignore[arg-type]
    ]
    await hub.send_together(scene)
    assert [c.name for c in radio.commands] == ["on", "set_level"]
    assert hub.commands_ok == 2
    radio.devices[DIMMER].reachable = False
    with pytest.raises(DeliveryFailed):
        await hub.send_together(scene)
    assert hub.commands_failed == 2  # the whole group counts as failed
    await ble.stop()
    await radio.stop()


async def test_a_scene_that_is_not_confirmed_in_time_is_a_timeout(tmp_path: Path) -> None:
    hub = Hub(EventBus())
    radio = SilentRadio(RadioContext(tmp_path, hub.ingest))
    hub.radios[Protocol.ZWAVE] = radio
    await radio.start()
    device = Device(DIMMER, Protocol.ZWAVE, "d", capabilities=("switch",))
    hub.ingest(DeviceAdded(device))
    with pytest.raises(DeliveryTimeout, match="zwave-3 did not confirm"):
        await hub.send_together([make_command(device, "on")], timeout=0.01)
