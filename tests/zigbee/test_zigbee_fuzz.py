"""Malformed ZCL from devices: the adapter never raises, emits nothing invalid, and keeps working."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

import pytest
import zigpy.types as _t
import zigpy.zcl.foundation as _foundation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zigpy.zcl.clusters import (
    closures,
    general,
    homeautomation,
    hvac,
    lighting,
    measurement,
    security,
    smartenergy,
)

from hub_core.model import ButtonPressed, Command, DeviceId, StateChanged, check_attribute
from hubtest.zigbee_events import EventLog
from radios.base import RadioState
from radios.sim import zigbee_household as hh
from radios.sim.zigbee_air import SimulatedAir
from radios.zigbee.radio import ZigbeeRadio

t: Any = _t
foundation: Any = _foundation
Household = tuple[ZigbeeRadio, EventLog, SimulatedAir]

#: (device, cluster) pairs whose attributes the adapter maps
TARGETS = [
    (hh.PLUG, general.OnOff),
    (hh.PLUG, homeautomation.ElectricalMeasurement),
    (hh.PLUG, smartenergy.Metering),
    (hh.BULB_1, general.LevelControl),
    (hh.BULB_1, lighting.Color),
    (hh.CLIMATE, measurement.TemperatureMeasurement),
    (hh.CLIMATE, measurement.RelativeHumidity),
    (hh.CLIMATE, general.PowerConfiguration),
    (hh.MOTION, measurement.OccupancySensing),
    (hh.MOTION, measurement.IlluminanceMeasurement),
    (hh.CONTACT, security.IasZone),
    (hh.LOCK, closures.DoorLock),
    (hh.THERMOSTAT, hvac.Thermostat),
    (hh.REMOTE, general.OnOff),
    (hh.REMOTE, general.LevelControl),
]

# A value of a wrong or odd ZCL type for an attribute: the device lies about types and ranges.
ODD_VALUES = st.one_of(
    st.tuples(st.just(foundation.DataTypeId.uint8), st.integers(0, 0xFF)),
    st.tuples(st.just(foundation.DataTypeId.int16), st.integers(-0x8000, 0x7FFF)),
    st.tuples(st.just(foundation.DataTypeId.uint16), st.integers(0, 0xFFFF)),
    st.tuples(st.just(foundation.DataTypeId.uint48), st.integers(0, 2**48 - 1)),
    st.tuples(st.just(foundation.DataTypeId.bool_), st.integers(0, 1)),
    st.tuples(
        st.just(foundation.DataTypeId.single), st.floats(width=32, allow_nan=True, allow_infinity=True)
    ),
    st.tuples(st.just(foundation.DataTypeId.string), st.text(max_size=8)),
    st.tuples(st.just(foundation.DataTypeId.map16), st.integers(0, 0xFFFF)),
)


def _report(attrid: int, type_id: Any, value: Any, tsn: int) -> bytes | None:
    """A Report Attributes frame built with zigpy's types, or None if the value cannot be encoded."""
    try:
        python_type = foundation.DataType.from_type_id(type_id).python_type
        typed = foundation.TypeValue(type=type_id, value=python_type(value))
        body = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Report_Attributes].schema(
            attribute_reports=[foundation.Attribute(attrid=attrid, value=typed)]
        )
        hdr = foundation.ZCLHeader.general(
            tsn, foundation.GeneralCommand.Report_Attributes, direction=foundation.Direction.Server_to_Client
        )
        data: bytes = hdr.serialize() + body.serialize()
    except (ValueError, TypeError, OverflowError, KeyError):
        return None
    return data


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, int, bytes, bool]:
    """(device, cluster id, bytes, is ZDO): odd reports, valid headers with garbage, ZDO or pure noise."""
    ieee, cluster = draw(st.sampled_from(TARGETS))
    tsn = draw(st.integers(0, 255))
    kind = draw(st.sampled_from(["report", "header+noise", "cluster+noise", "noise", "truncated", "zdo"]))
    if kind == "zdo":
        # Responses nobody asked for, device announcements and unknown ZDO clusters, with any body.
        zdo_cluster = draw(
            st.sampled_from([0x0013, 0x8000, 0x8001, 0x8002, 0x8004, 0x8005, 0x8021, 0x8031, 0x7777])
        )
        return ieee, zdo_cluster, bytes([tsn]) + draw(st.binary(max_size=24)), True
    if kind == "report":
        attrid = draw(st.sampled_from([*cluster.attributes, 0x4242]))
        type_id, value = draw(ODD_VALUES)
        data = _report(attrid, type_id, value, tsn)
        if data is not None:
            return ieee, cluster.cluster_id, data, False
        kind = "noise"
    noise = draw(st.binary(max_size=24))
    if kind == "header+noise":
        command = draw(st.integers(0, 0x20))
        hdr = foundation.ZCLHeader.general(tsn, command, direction=foundation.Direction.Server_to_Client)
        return ieee, cluster.cluster_id, hdr.serialize() + noise, False
    if kind == "cluster+noise":
        command = draw(st.integers(0, 0x0F))
        direction = draw(st.sampled_from(list(foundation.Direction)))
        manufacturer = draw(st.none() | st.integers(0, 0xFFFF))
        hdr = foundation.ZCLHeader.cluster(tsn, command, manufacturer=manufacturer, direction=direction)
        return ieee, cluster.cluster_id, hdr.serialize() + noise, False
    if kind == "truncated":
        return ieee, cluster.cluster_id, noise[:2], False
    return ieee, draw(st.sampled_from([cluster.cluster_id, 0xFC00, 0x0000])), noise, False


def collect_frames(count: int) -> list[tuple[str, int, bytes, bool]]:
    """Let hypothesis generate `count` frames."""
    out: list[tuple[str, int, bytes, bool]] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(frames())
    def gather(frame: tuple[str, int, bytes, bool]) -> None:
        out.append(frame)

    gather()
    return out


def adapter_frames(record: logging.LogRecord) -> list[str]:
    """Source files of our adapter in the traceback a log record carries."""
    if not record.exc_info or record.exc_info[1] is None:
        return []
    tb = traceback.extract_tb(record.exc_info[1].__traceback__)
    return [f.filename for f in tb if "radios/zigbee/" in f.filename.replace("\\", "/")]


async def test_malformed_zcl_from_devices_crashes_nothing(
    household: Household, caplog: pytest.LogCaptureFixture
) -> None:
    radio, log, air = household
    caplog.set_level(logging.DEBUG, logger="zigpy")
    caplog.set_level(logging.DEBUG, logger="radios")
    log.clear()
    generated = collect_frames(400)
    for number, (ieee, cluster_id, data, zdo) in enumerate(generated):
        air.device(ieee).send_raw(cluster_id, data, endpoint=1, zdo=zdo)
        if number % 50 == 0:
            await asyncio.sleep(0)  # let the air deliver in batches, as a radio would
    # Wait until the air has delivered everything: a probe report sent last arrives last.
    air.device(hh.CLIMATE).set_attribute(measurement.RelativeHumidity, "measured_value", 7777)
    await log.wait(lambda e: isinstance(e, StateChanged) and e.attribute == "humidity" and e.value == 77.77)

    leaks = [(r.getMessage(), adapter_frames(r)) for r in caplog.records if adapter_frames(r)]
    assert leaks == [], "the adapter raised while handling device frames"
    for event in log.events:
        if isinstance(event, StateChanged):
            check_attribute(event.attribute, event.value)  # every emitted value is valid
        if isinstance(event, ButtonPressed):
            assert event.action in ("pressed", "held", "released", "double")
    assert radio.state is RadioState.RUNNING
    await radio.execute(Command(DeviceId("zigbee-" + hh.PLUG.replace(":", "")), "on"))
