"""A simulated Zigbee air: the coordinator's stick and the simulated devices (`zigbee_device`) in range.

Nothing here sleeps or reads a clock: answers go back to the coordinator on the next event-loop
iteration (`call_soon`), the way a radio library's serial callback hands them to zigpy. The
coordinator application is an `AirHost` (our `SimControllerApplication`), so this module does not
import it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import zigpy.exceptions
import zigpy.profiles.zha as zha
import zigpy.state
import zigpy.zcl
from zigpy.types import EUI64, ZigbeePacket
from zigpy.zcl.clusters import (
    general,
    homeautomation,
    hvac,
    measurement,
    security,
)

from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.zigbee_household import default_household
from radios.sim.zigbee_persist import device_state, restore_device
from radios.sim.zigbee_zcl import (
    COORDINATOR_NWK,
    ZDO_ENDPOINT,
    SimCluster,
    SimEndpoint,
    eui64,
    parse_zcl,
    t,
    zdo,
    zdo_t,
)

log = logging.getLogger(__name__)
#: in a `sim://<data_dir>` air's directory: what the simulated devices keep across processes
STATE_FILE = "zigbee-sim-household.json"
#: Frames the air keeps for tests to inspect (the oldest are forgotten).
FRAME_LOG = 1024

__all__ = ["SentFrame", "SimCluster", "SimEndpoint", "SimZigbeeDevice", "SimulatedAir", "StickUnavailable"]


class AirHost(Protocol):
    """The coordinator application on the simulated stick, as the air calls it."""

    def connection_lost(self, exc: Exception) -> None:
        """The stick went away."""

    def handle_join(self, nwk: Any, ieee: Any, parent_nwk: Any) -> None:
        """A device joined."""

    def handle_leave(self, nwk: Any, ieee: Any) -> None:
        """A device left."""

    def radio_received(self, packet: ZigbeePacket) -> None:
        """A frame arrived from the air."""


class StickUnavailable(ConnectionError):
    """The simulated stick is unplugged (or was never plugged in)."""


@dataclass(frozen=True, slots=True)
class SentFrame:
    """A packet the coordinator put on the air, as zigpy handed it to the radio."""

    packet: ZigbeePacket
    #: the zigpy PacketPriority the coordinator library queued it at (NORMAL = 0)
    priority: int = 0

    @property
    def cluster_id(self) -> int:
        """The packet's cluster id."""
        return int(self.packet.cluster_id)

    @property
    def is_group(self) -> bool:
        """True for a group cast (multicast)."""
        return self.packet.dst is not None and self.packet.dst.addr_mode == t.AddrMode.Group

    @property
    def is_zdo(self) -> bool:
        """True for a ZDO request or response."""
        return self.packet.dst_ep == ZDO_ENDPOINT and self.packet.profile_id == 0

    def zcl(self) -> tuple[Any, Any] | None:
        """The parsed ZCL header and command, or None for ZDO or an unparsable frame."""
        if self.is_zdo:
            return None
        try:
            return parse_zcl(self.cluster_id, self.packet.data.serialize(), to_server=True)
        except (ValueError, KeyError):
            return None


class SimulatedAir:
    """The air between a simulated coordinator stick and simulated devices, named by a device path."""

    _airs: ClassVar[dict[str, SimulatedAir]] = {}

    def __init__(self, path: str = "sim://default", *, stick_ieee: str = "00:12:4b:00:1c:a1:b2:c3") -> None:
        self.path = path
        self.stick_ieee = t.EUI64.convert(stick_ieee)
        self.plugged = True
        #: the stick's non-volatile memory: network settings survive a reset, not a replacement
        self.nvram: tuple[zigpy.state.NetworkInfo, zigpy.state.NodeInfo] | None = None
        self.app: AirHost | None = None
        self.devices: dict[EUI64, SimZigbeeDevice] = {}
        #: The most recent frames (bounded: a simulated hub runs for days under `hub-agent run`).
        self.frames: deque[SentFrame] = deque(maxlen=FRAME_LOG)
        self.permit_joining = False
        #: let the default household join the first time inclusion opens
        self.auto_household = True
        self.household_joined = False
        self.connects = 0
        self.attach_attempts = 0
        self._attempt_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._frame_waiters: list[tuple[Callable[[SentFrame], bool], asyncio.Future[SentFrame]]] = []

    # --- a registry so a config's device path finds its air --------------------------------------

    @classmethod
    def for_path(cls, path: str) -> SimulatedAir:
        """The air named `path`, created on first use (with the devices a `sim://<dir>` air saved)."""
        air = cls._airs.get(path)
        if air is None:
            air = cls._airs[path] = cls(path)
            air.load()
        return air

    # --- the household's own memory across processes -----------------------------------------------

    def _state_file(self) -> Path | None:
        directory = Path(self.path.removeprefix("sim://"))
        if not self.path.startswith("sim://") or not directory.is_dir():
            return None
        return directory / STATE_FILE

    def load(self) -> None:
        """Bring back the household devices a previous process left in range (a `sim://<dir>` air)."""
        path = self._state_file()
        if path is None or not path.exists():
            return
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            for device in default_household():
                state = saved.get(str(device.ieee))
                if isinstance(state, dict):
                    self.add(device)
                    restore_device(device, state)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignoring the simulated household state %s: %s", path, exc)
            return
        self.household_joined = any(d.joined for d in self.devices.values())

    def save(self) -> None:
        """Write what the devices in range keep in their own flash (a `sim://<dir>` air only)."""
        path = self._state_file()
        if path is None:
            return
        data = {str(ieee): device_state(device) for ieee, device in self.devices.items()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def register(cls, air: SimulatedAir) -> SimulatedAir:
        """Make `air` the one `for_path(air.path)` returns."""
        cls._airs[air.path] = air
        return air

    @classmethod
    def forget(cls, path: str) -> None:
        """Drop the air named `path` from the registry."""
        cls._airs.pop(path, None)

    # --- the stick ----------------------------------------------------------------------------------

    def attach(self, app: AirHost) -> None:
        """A coordinator application opened the stick."""
        self.attach_attempts += 1
        for wanted, future in self._attempt_waiters:
            if self.attach_attempts >= wanted and not future.done():
                future.set_result(None)
        if not self.plugged:
            raise StickUnavailable(f"no Zigbee stick at {self.path}")
        self.app = app
        self.connects += 1

    def wait_for_attach_attempts(self, count: int) -> asyncio.Future[None]:
        """A future resolved once the host has tried to open the stick `count` times in all."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.attach_attempts >= count:
            future.set_result(None)
        else:
            self._attempt_waiters.append((count, future))
        return future

    def detach(self, app: AirHost) -> None:
        """The application closed the stick."""
        if self.app is app:
            self.app = None
        self.save()

    def reset_radio(self) -> None:
        """The stick reboots (firmware crash, brown-out): the host loses it; settings are kept."""
        app, self.app = self.app, None
        self.permit_joining = False
        if app is not None:
            app.connection_lost(ConnectionResetError("the Zigbee stick reset"))

    def unplug(self) -> None:
        """The stick is pulled out: the host loses it and cannot reopen it until `replug()`."""
        self.plugged = False
        self.reset_radio()

    def replug(self) -> None:
        """The stick is back."""
        self.plugged = True

    def replace_stick(self, stick_ieee: str = "00:12:4b:00:1c:a1:ff:01") -> None:
        """A new, blank stick: the old network's settings are gone from the radio."""
        self.reset_radio()
        self.nvram = None
        self.stick_ieee = t.EUI64.convert(stick_ieee)

    # --- devices ------------------------------------------------------------------------------------

    def add(self, device: SimZigbeeDevice) -> SimZigbeeDevice:
        """Put a device in range (not joined yet)."""
        device.air = self
        self.devices[device.ieee] = device
        return device

    def device(self, ieee: str | EUI64) -> SimZigbeeDevice:
        """The simulated device with this IEEE address (any spelling)."""
        key = ieee if isinstance(ieee, EUI64) else eui64(ieee)
        return self.devices[key]

    def by_name(self, name: str) -> SimZigbeeDevice:
        """The simulated device with this name."""
        for device in self.devices.values():
            if device.name == name:
                return device
        raise KeyError(name)

    def join(self, device: SimZigbeeDevice, *, rejoin: bool = False) -> None:
        """`device` joins through the coordinator (a first join only while joining is permitted)."""
        self.add(device)
        if self.app is None or not (self.permit_joining or rejoin):
            raise RuntimeError("the network is not open for joining")
        if device.left:
            # A device that left and joins again is given a new network address, which is also
            # what makes zigpy treat it as a (re)join to initialise again.
            device.nwk = t.NWK((int(device.nwk) + 0x0100) & 0xFFF7 or 0x0100)
            device.left = False
        device.joined = True
        self.app.handle_join(nwk=device.nwk, ieee=device.ieee, parent_nwk=COORDINATOR_NWK)

    def join_default_household(self) -> list[SimZigbeeDevice]:
        """Let the default household join (inclusion must be open)."""
        devices = [
            d for d in default_household() if d.ieee not in self.devices or not self.devices[d.ieee].joined
        ]
        for device in devices:
            self.join(device)
        self.household_joined = True
        return devices

    def bring_back(self, known: Iterable[EUI64]) -> list[SimZigbeeDevice]:
        """Household devices the coordinator knows but this (fresh) air lacks rejoin it.

        A new process starts with a new air; the devices of a real household would still be there
        and rejoin the restored network (trust-centre rejoin, no permit needed).
        """
        wanted = set(known)
        back = [d for d in default_household() if d.ieee in wanted and d.ieee not in self.devices]
        for device in back:
            self.add(device)
            device.left = True
            self.join(device, rejoin=True)
        if back:
            self.household_joined = True
        return back

    def leave(self, device: SimZigbeeDevice) -> None:
        """`device` leaves the network (asked to, or by itself)."""
        if not device.joined:
            return
        device.joined = False
        device.left = True
        device.bindings.clear()
        if self.app is not None:
            self.app.handle_leave(nwk=device.nwk, ieee=device.ieee)

    def permit(self, seconds: int) -> None:
        """The coordinator opened (seconds > 0) or closed joining."""
        self.permit_joining = seconds > 0
        if self.permit_joining and self.auto_household and not self.household_joined:
            asyncio.get_running_loop().call_soon(self._auto_join)

    def _auto_join(self) -> None:
        if self.app is not None and self.permit_joining and not self.household_joined:
            self.join_default_household()

    def simulate_activity(self, rng: random.Random) -> None:
        """One joined device does something plausible (the demo calls this now and then)."""
        candidates = [d for d in self.devices.values() if d.joined and d.reachable]
        if candidates:
            act(rng.choice(candidates), rng)

    # --- frames -------------------------------------------------------------------------------------

    def transmit(self, packet: ZigbeePacket, *, priority: int = 0) -> None:
        """The coordinator sends `packet`; raise DeliveryError when no device acknowledges it."""
        if self.app is None:
            raise zigpy.exceptions.DeliveryError("the Zigbee stick is not connected")
        frame = SentFrame(packet, priority)
        self.frames.append(frame)
        self._notify(frame)
        assert packet.dst is not None
        mode = packet.dst.addr_mode
        if mode == t.AddrMode.Broadcast:
            # Address look-ups are answered by the device they name; other broadcasts (permit
            # joining and the like) need no answer.
            if packet.dst_ep == ZDO_ENDPOINT and packet.cluster_id in (
                zdo_t.ZDOCmd.IEEE_addr_req,
                zdo_t.ZDOCmd.NWK_addr_req,
            ):
                _, args = zdo.ZDO(None).deserialize(packet.cluster_id, packet.data.serialize())
                for device in self.devices.values():
                    if device.joined and device.reachable and args[0] in (device.nwk, device.ieee):
                        self._later(device.handle(packet))
            return
        if mode == t.AddrMode.Group:
            for device in self.devices.values():
                if device.joined and device.reachable:
                    self._later(device.handle(packet, group=True))
            return
        target = self._unicast_target(packet)
        if target is None or not target.joined or not target.reachable:
            raise zigpy.exceptions.DeliveryError(
                f"no APS ack from {packet.dst.address}", status=t.MACStatus.MAC_NO_ACK
            )
        self._later(target.handle(packet))

    def _unicast_target(self, packet: ZigbeePacket) -> SimZigbeeDevice | None:
        assert packet.dst is not None
        for device in self.devices.values():
            if packet.dst.addr_mode == t.AddrMode.IEEE and device.ieee == packet.dst.address:
                return device
            if packet.dst.addr_mode == t.AddrMode.NWK and device.nwk == packet.dst.address and device.joined:
                return device
        return None

    def _later(self, packets: list[ZigbeePacket]) -> None:
        if packets:
            app = self.app
            asyncio.get_running_loop().call_soon(self._deliver, app, packets)

    def _deliver(self, app: AirHost | None, packets: list[ZigbeePacket]) -> None:
        if app is None or self.app is not app:
            return  # the stick reset in between: the answers are lost, as on a real radio
        for packet in packets:
            app.radio_received(packet)

    def from_device(
        self, device: SimZigbeeDevice, endpoint: int, cluster_id: int, data: bytes, *, dst_ep: int
    ) -> None:
        """A device sends a ZCL frame to the coordinator on its own initiative."""
        packet = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=device.nwk),
            src_ep=endpoint,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK),
            dst_ep=dst_ep,
            tsn=(data[0] if dst_ep == ZDO_ENDPOINT else data[1]) if len(data) > 1 else 0,
            profile_id=0 if dst_ep == ZDO_ENDPOINT else zha.PROFILE_ID,
            cluster_id=cluster_id,
            data=t.SerializableBytes(data),
            lqi=200,
            rssi=-50,
        )
        self._later([packet])

    def wait_for_frame(self, predicate: Callable[[SentFrame], bool]) -> asyncio.Future[SentFrame]:
        """A future resolved with the next frame the coordinator sends that matches `predicate`."""
        future: asyncio.Future[SentFrame] = asyncio.get_running_loop().create_future()
        self._frame_waiters.append((predicate, future))
        return future

    def _notify(self, frame: SentFrame) -> None:
        keep = []
        for predicate, future in self._frame_waiters:
            if future.done():
                continue
            if predicate(frame):
                future.set_result(frame)
            else:
                keep.append((predicate, future))
        self._frame_waiters = keep


def act(device: SimZigbeeDevice, rng: random.Random) -> None:
    """A plausible change on `device`, in raw ZCL units, reported as the device would."""
    server = {cid for ep in device.endpoints.values() for cid in ep.server}
    if security.IasZone.cluster_id in server:
        zone = device.get_attribute(security.IasZone, "zone_status") or 0
        device.zone_alarm(not int(zone) & 1)
    elif measurement.OccupancySensing.cluster_id in server:
        occupied = device.get_attribute(measurement.OccupancySensing, "occupancy") or 0
        device.set_attribute(measurement.OccupancySensing, "occupancy", 0 if int(occupied) & 1 else 1)
    elif measurement.TemperatureMeasurement.cluster_id in server:
        current = int(device.get_attribute(measurement.TemperatureMeasurement, "measured_value") or 2000)
        device.set_attribute(
            measurement.TemperatureMeasurement, "measured_value", current + rng.randint(-30, 30)
        )
    elif hvac.Thermostat.cluster_id in server:
        current = int(device.get_attribute(hvac.Thermostat, "local_temperature") or 2000)
        device.set_attribute(hvac.Thermostat, "local_temperature", current + rng.randint(-20, 20))
    elif homeautomation.ElectricalMeasurement.cluster_id in server:
        on = bool(device.get_attribute(general.OnOff, "on_off"))
        power = rng.randint(8000, 12000) if on else 0  # tenths of a watt: a coffee machine heating
        device.set_attribute(homeautomation.ElectricalMeasurement, "active_power", power)
    elif not server - {general.Basic.cluster_id, general.PowerConfiguration.cluster_id}:
        device.press(rng.choice(["on", "off", "toggle"]))
