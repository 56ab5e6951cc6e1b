"""The emulated coordinator's radio side: the simulated household in range and what goes over the air.

Devices are the simulated ones of `radios.sim.zigbee_device` (they answer ZDO and ZCL like real
devices); this module is their `DeviceAir`. A device belongs to the network it joined (extended PAN id
and network key): it answers only a coordinator running that network, so a coordinator restored from
a backup reaches the household again and a stick with a new network does not. Frames reach the host
as MT callbacks on the next loop turn, never synchronously, as from a real radio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import zigpy.types as _t
from zigpy.types import EUI64, ZigbeePacket

from radios.sim.zigbee_device import SimZigbeeDevice
from radios.sim.zigbee_persist import device_state, restore_device
from radios.sim.zigbee_zcl import COORDINATOR_NWK, ZDO_ENDPOINT
from radios.sim.znp import wire
from radios.sim.znp.frames import CommandType, Frame, Subsystem

log = logging.getLogger(__name__)

t: Any = _t
ZHA_PROFILE = 0x0104
ZDO_DEVICE_ANNCE = 0x0013
#: MT status of a unicast no device acknowledged
MAC_NO_ACK = 0xE9
SUCCESS = 0x00

# ZDO callbacks (AREQ, subsystem ZDO) and AF callbacks (AREQ, subsystem AF)
ZDO_STATE_CHANGE_IND = 0xC0
ZDO_LEAVE_IND = 0xC9
ZDO_TC_DEV_IND = 0xCA
ZDO_MSG_CB_INCOMING = 0xFF
AF_DATA_CONFIRM = 0x80
AF_INCOMING_MSG = 0x81


def ieee_bytes(ieee: EUI64) -> bytes:
    """An IEEE address as it goes over MT (little-endian)."""
    data: bytes = ieee.serialize()
    return data


class ZnpAir:
    """Devices in range of the emulated coordinator, and the frames between them and the host."""

    def __init__(self, send: Callable[[Frame], None], changed: Callable[[], None]) -> None:
        self._send = send
        self._changed = changed
        self.devices: dict[EUI64, SimZigbeeDevice] = {}
        #: device -> the network (`Network.identity`) it joined
        self.memberships: dict[EUI64, str] = {}
        #: the network the coordinator runs now, None while it is not running
        self.network: str | None = None
        self.permit_until = 0.0
        #: let not-yet-joined devices join when joining is permitted
        self.auto_join = True
        #: the coordinator registered these application endpoints (AF_REGISTER); RAM only
        self.endpoints: set[int] = set()
        #: answer data requests but never confirm them (a wedged radio firmware)
        self.stuck_confirms = False
        self.dropped_unregistered = 0
        #: ZDO requests the host sent to devices, by cluster (an interview shows up here)
        self.zdo_requests: Counter[int] = Counter()
        self.joined_callbacks: list[Callable[[SimZigbeeDevice], None]] = []
        #: called with (device, cluster) for every unicast a device acknowledged (tests await these)
        self.unicast_callbacks: list[Callable[[SimZigbeeDevice, int], None]] = []

    # --- household ------------------------------------------------------------------------------------

    def add(self, devices: Iterable[SimZigbeeDevice]) -> None:
        """Put devices in range (joined only if `memberships` says so)."""
        for device in devices:
            device.air = self
            self.devices[device.ieee] = device
            device.joined = device.ieee in self.memberships

    def remember(self, memberships: dict[EUI64, str]) -> None:
        """Devices in range that joined a network before (e.g. under another stick) still belong to it."""
        for ieee, network in memberships.items():
            device = self.devices.get(ieee)
            if device is not None:
                self.memberships[ieee] = network
                device.joined = True
        self._changed()

    def by_name(self, name: str) -> SimZigbeeDevice:
        """The device with this name; KeyError if none."""
        for device in self.devices.values():
            if device.name == name:
                return device
        raise KeyError(name)

    def _reachable(self, device: SimZigbeeDevice) -> bool:
        return (
            device.joined
            and device.reachable
            and self.network is not None
            and self.memberships.get(device.ieee) == self.network
        )

    # --- joining and leaving -----------------------------------------------------------------------

    def permit(self, seconds: int) -> None:
        """Joining opens for `seconds` (0 closes); waiting devices join on the next loop turn."""
        self.permit_until = time.monotonic() + seconds if seconds else 0.0
        if seconds and self.auto_join:
            asyncio.get_running_loop().call_soon(self._join_waiting)

    def permitting(self) -> bool:
        """True while joining is permitted."""
        return self.network is not None and time.monotonic() < self.permit_until

    def _join_waiting(self) -> None:
        for device in list(self.devices.values()):
            if not device.joined and self.permitting():
                self.join(device)

    def join(self, device: SimZigbeeDevice) -> None:
        """`device` joins the running network: trust-centre indication, then its announcement."""
        if self.network is None:
            raise RuntimeError("the coordinator runs no network")
        if device.left:
            device.nwk = t.NWK((int(device.nwk) + 0x0100) & 0xFFF7 or 0x0100)
            device.left = False
        device.joined = True
        self.memberships[device.ieee] = self.network
        self._changed()
        self._areq(
            Subsystem.ZDO,
            ZDO_TC_DEV_IND,
            wire.u16(device.nwk) + ieee_bytes(device.ieee) + wire.u16(COORDINATOR_NWK),
        )
        capability = 0x8E if device.mains else 0x80
        annce = wire.u16(device.nwk) + ieee_bytes(device.ieee) + wire.u8(capability)
        self._zdo_incoming(device.nwk, ZDO_DEVICE_ANNCE, device._next_tsn(), annce, broadcast=True)
        for callback in self.joined_callbacks:
            callback(device)

    def announce_all(self) -> None:
        """Every joined device of the running network announces itself (after a coordinator restart)."""
        for device in self.devices.values():
            if self._reachable(device):
                annce = (
                    wire.u16(device.nwk) + ieee_bytes(device.ieee) + wire.u8(0x8E if device.mains else 0x80)
                )
                self._zdo_incoming(device.nwk, ZDO_DEVICE_ANNCE, device._next_tsn(), annce, broadcast=True)

    def leave(self, device: SimZigbeeDevice) -> None:
        """`device` leaves the network (asked to, or by itself)."""
        if not device.joined:
            return
        device.joined = False
        device.left = True
        device.bindings.clear()
        self.memberships.pop(device.ieee, None)
        self._changed()
        if self.network is not None:
            self._areq(
                Subsystem.ZDO,
                ZDO_LEAVE_IND,
                wire.u16(device.nwk) + ieee_bytes(device.ieee) + b"\x00\x00\x00",
            )

    # --- frames from the host -------------------------------------------------------------------------

    def unicast(
        self, mode: int, address: int | EUI64, dst_ep: int, src_ep: int, cluster: int, tsn: int, data: bytes
    ) -> bool:
        """Deliver a unicast; False when no device acknowledged it (MAC no-ack)."""
        device = self._find(mode, address)
        if device is None or not self._reachable(device):
            return False
        if dst_ep == ZDO_ENDPOINT:
            self.zdo_requests[cluster] += 1
        for callback in self.unicast_callbacks:
            callback(device, cluster)
        packet = self._packet(
            t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=device.nwk),
            dst_ep,
            src_ep,
            cluster,
            tsn,
            data,
        )
        self._later(device, device.handle(packet))
        return True

    def group_cast(self, group: int, dst_ep: int, src_ep: int, cluster: int, tsn: int, data: bytes) -> None:
        """Deliver a group cast to every reachable member."""
        dst = t.AddrModeAddress(addr_mode=t.AddrMode.Group, address=t.Group(group))
        for device in self.devices.values():
            if self._reachable(device):
                self._later(
                    device, device.handle(self._packet(dst, dst_ep, src_ep, cluster, tsn, data), group=True)
                )

    def broadcast(self, address: int, dst_ep: int, src_ep: int, cluster: int, tsn: int, data: bytes) -> None:
        """Deliver a broadcast: ZDO address look-ups are answered by the device they name."""
        if dst_ep != ZDO_ENDPOINT or cluster not in (0x0000, 0x0001):  # NWK_addr_req, IEEE_addr_req
            return
        dst = t.AddrModeAddress(addr_mode=t.AddrMode.Broadcast, address=t.BroadcastAddress(address))
        packet = self._packet(dst, dst_ep, src_ep, cluster, tsn, data)
        for device in self.devices.values():
            if self._reachable(device) and (
                ieee_bytes(device.ieee) in data or wire.u16(device.nwk) == data[1:3]
            ):
                self._later(device, device.handle(packet))

    def _find(self, mode: int, address: int | EUI64) -> SimZigbeeDevice | None:
        for device in self.devices.values():
            if mode == t.AddrMode.IEEE and device.ieee == address:
                return device
            if mode == t.AddrMode.NWK and device.joined and int(device.nwk) == address:
                return device
        return None

    @staticmethod
    def _packet(dst: Any, dst_ep: int, src_ep: int, cluster: int, tsn: int, data: bytes) -> ZigbeePacket:
        zdo = dst_ep == ZDO_ENDPOINT and dst.addr_mode != t.AddrMode.Group  # a group cast has no endpoint
        packet: ZigbeePacket = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK),
            src_ep=src_ep,
            dst=dst,
            dst_ep=dst_ep,
            tsn=tsn,
            profile_id=0 if zdo else ZHA_PROFILE,
            cluster_id=cluster,
            data=t.SerializableBytes(data),
        )
        return packet

    # --- frames to the host ---------------------------------------------------------------------------

    def from_device(
        self, device: SimZigbeeDevice, endpoint: int, cluster_id: int, data: bytes, *, dst_ep: int
    ) -> None:
        """A device sends a frame to the coordinator on its own initiative (DeviceAir)."""
        if not self._reachable(device):
            return
        packet = self._packet(
            t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK),
            dst_ep,
            endpoint,
            cluster_id,
            0,
            data,
        )
        packet.src = t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=device.nwk)
        self._later(device, [packet])

    def _later(self, device: SimZigbeeDevice, packets: list[ZigbeePacket]) -> None:
        if packets:
            asyncio.get_running_loop().call_soon(self._deliver, device, packets, self.network)

    def _deliver(self, device: SimZigbeeDevice, packets: list[ZigbeePacket], network: str | None) -> None:
        if network is None or self.network != network:
            return  # the coordinator reset in between: the frames are lost, as on a real radio
        for packet in packets:
            data = packet.data.serialize()
            if packet.src_ep == ZDO_ENDPOINT and packet.profile_id == 0:
                self._zdo_incoming(device.nwk, int(packet.cluster_id), data[0], data[1:], broadcast=False)
            elif packet.dst_ep not in self.endpoints:
                # Z-Stack's AF layer drops frames for endpoints the host has not registered.
                self.dropped_unregistered += 1
                log.debug("dropped a frame for unregistered endpoint %d", packet.dst_ep)
            else:
                self.af_incoming(
                    device.nwk,
                    int(packet.src_ep or 0),
                    int(packet.dst_ep or 0),
                    int(packet.cluster_id),
                    data,
                    lqi=200,
                )

    def af_incoming(self, src: int, src_ep: int, dst_ep: int, cluster: int, data: bytes, *, lqi: int) -> None:
        """AF_INCOMING_MSG to the host."""
        tsn = data[1] if len(data) > 1 else 0
        payload = (
            wire.u16(0)  # group id: none
            + wire.u16(cluster)
            + wire.u16(src)
            + wire.u8(src_ep)
            + wire.u8(dst_ep)
            + b"\x00"  # not a broadcast
            + wire.u8(lqi)
            + b"\x00"  # security use
            + wire.u32(int(time.monotonic() * 1000) & 0xFFFFFFFF)
            + wire.u8(tsn)
            + wire.short_bytes(data[:200])
            + wire.u16(src)
            + b"\x00"  # radius
        )
        self._areq(Subsystem.AF, AF_INCOMING_MSG, payload)

    def _zdo_incoming(self, src: int, cluster: int, tsn: int, body: bytes, *, broadcast: bool) -> None:
        payload = (
            wire.u16(src)
            + wire.u8(1 if broadcast else 0)
            + wire.u16(cluster)
            + b"\x00"
            + wire.u8(tsn)
            + wire.u16(0xFFFF if broadcast else 0x0000)
            + body
        )
        self._areq(Subsystem.ZDO, ZDO_MSG_CB_INCOMING, payload)

    def zdo_from_coordinator(self, cluster: int, tsn: int, body: bytes) -> None:
        """A ZDO answer the coordinator itself gives (to a request the host addressed to it)."""
        self._zdo_incoming(int(COORDINATOR_NWK), cluster, tsn, body, broadcast=False)

    def _areq(self, subsystem: Subsystem, command: int, payload: bytes) -> None:
        self._send(Frame(CommandType.AREQ, subsystem, command, payload))

    # --- persistence ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Per device: the network it joined, and what it keeps in its own flash."""
        return {
            str(ieee): {**device_state(device), "network": self.memberships.get(ieee)}
            for ieee, device in self.devices.items()
        }

    def load_json(self, data: object) -> None:
        """Restore what `to_json` saved onto the devices in range; ValueError if malformed."""
        if not isinstance(data, dict):
            raise ValueError("devices must be an object")
        for ieee_text, saved in data.items():
            device = self.devices.get(t.EUI64.convert(ieee_text))
            if device is None or not isinstance(saved, dict):
                continue
            restore_device(device, saved)
            network = saved.get("network")
            if isinstance(network, str):
                self.memberships[device.ieee] = network
            device.joined = device.ieee in self.memberships
