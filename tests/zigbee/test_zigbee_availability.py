"""Availability: silent devices go offline after their expected interval, and back online when heard."""

from __future__ import annotations

from typing import Any

import pytest
from zigpy.zcl.clusters import general

from hub_agent.config import ZigbeeSection
from hub_agent.radio_registry import FACTORIES
from hub_core.errors import HubError
from hub_core.model import DeviceId, DeviceOnline, Protocol
from hubtest.zigbee_events import EventLog, FakeClock
from radios.base import RadioContext
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.availability import AvailabilityTracker
from radios.zigbee.radio import ZigbeeRadio
from radios.zigbee.stack import StackNotInstalled, application_class, zigpy_config

Household = tuple[ZigbeeRadio, EventLog, SimulatedAir]


def did(ieee: str) -> DeviceId:
    return DeviceId("zigbee-" + ieee.replace(":", ""))


def test_tracker_times_out_and_recovers() -> None:
    tracker = AvailabilityTracker(factor=2, grace=10)
    tracker.track("a", 100, now=0)
    tracker.track("never", None, now=0)
    assert tracker.check(now=210) == []
    assert tracker.check(now=211) == ["a"]
    assert tracker.check(now=5000) == []  # reported once
    assert not tracker.is_online("a")
    assert tracker.is_online("never")
    assert tracker.heard("a", now=5001) is True
    assert tracker.heard("a", now=5002) is False
    tracker.restart(now=9000)
    assert tracker.check(now=9000 + 210) == []
    tracker.forget("a")
    assert tracker.heard("a", now=1) is False


async def test_silent_devices_go_offline_and_come_back(household: Household, clock: FakeClock) -> None:
    radio, log, air = household
    log.clear()
    # Mains devices report at least every 900 s; offline after 2 x 900 + 300 s of silence.
    clock.advance(2 * 900 + 301)
    gone = radio.check_availability()
    assert did(hh.PLUG) in gone and did(hh.BULB_1) in gone
    assert did(hh.CLIMATE) not in gone  # battery sensors: 6 h battery reports
    assert DeviceOnline(did(hh.PLUG), False, log.of(DeviceOnline, device=did(hh.PLUG))[0].ts) in log.events
    air.device(hh.PLUG).set_attribute(general.OnOff, "on_off", 1)
    event = await log.next(lambda e: isinstance(e, DeviceOnline) and e.online)
    assert isinstance(event, DeviceOnline) and event.device == did(hh.PLUG)
    # A periodic check-in (maximum reporting interval) keeps a quiet device online.
    clock.advance(2 * 900 + 301)
    air.device(hh.BULB_1).report_all()
    await log.next(lambda e: isinstance(e, DeviceOnline) and e.device == did(hh.BULB_1) and e.online)
    assert did(hh.BULB_1) not in radio.check_availability()
    clock.advance(2 * 21600 + 301)
    assert did(hh.CLIMATE) in radio.check_availability()


async def test_recovery_does_not_count_the_outage_as_silence(household: Household, clock: FakeClock) -> None:
    radio, log, air = household
    from radios.base import RadioState

    air.reset_radio()
    clock.advance(2 * 900 + 301)  # the stick was away for a long time
    await radio.wait_for_state(RadioState.RUNNING)
    log.clear()
    assert radio.check_availability() == []


def test_registry_builds_the_zigpy_adapter_for_sim(tmp_path: Any) -> None:
    _, factory = FACTORIES["zigbee"]
    radio = factory(ZigbeeSection(radio="sim", port="sim", channel=15), RadioContext(tmp_path, EventLog()))
    assert isinstance(radio, ZigbeeRadio)
    assert radio.protocol is Protocol.ZIGBEE
    config = zigpy_config(ZigbeeSection(radio="sim", port="sim", channel=15), tmp_path)
    assert config["device"]["path"] == f"sim://{tmp_path.resolve()}"
    assert config["database_path"] == str(tmp_path / "zigbee.db")
    assert config["ota"] == {"enabled": False}
    assert config["topology_scan_enabled"] is False


@pytest.mark.parametrize(
    ("radio", "extra"), [("znp", "zigbee-znp"), ("ezsp", "zigbee-ezsp"), ("deconz", "zigbee-deconz")]
)
def test_missing_radio_library_names_the_extra(radio: str, extra: str) -> None:
    try:
        application_class(radio)
    except StackNotInstalled as exc:
        assert f'pip install "hub-agent[{extra}]"' in str(exc)
        assert isinstance(exc, HubError)
    else:  # the extra is installed here: then it must be a zigpy ControllerApplication
        import zigpy.application

        assert issubclass(application_class(radio), zigpy.application.ControllerApplication)
    with pytest.raises(ValueError, match="radio must be one of znp, ezsp, deconz, sim"):
        application_class("xbee")
    with pytest.raises(ValueError, match="port is required"):
        zigpy_config(ZigbeeSection(radio=radio, port="", channel=11), __import__("pathlib").Path("/tmp"))
