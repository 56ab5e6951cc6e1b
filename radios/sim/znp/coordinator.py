"""An emulated Z-Stack 3.30 coordinator (a CC2652 running TI's ZNP firmware), seen through MT.

It handles the MT requests zigpy-znp sends (SYS, UTIL, APP_CNF, ZDO, AF), keeps its NV (`nv`),
forms or resumes a network, and carries the household's frames (`air`). A request it does not
implement gets the RPC error response Z-Stack gives for an unknown command, and is logged once, so a
new zigpy-znp release that asks for something new shows up in the log rather than as a hang.
"""

from __future__ import annotations

import logging
import os
import random
import struct
from collections.abc import Callable
from typing import Any

import zigpy.types as _t
import zigpy.zdo.types as _zdo_t
from zigpy.types import EUI64

from radios.sim.znp import nv as nvm
from radios.sim.znp import wire
from radios.sim.znp.air import AF_DATA_CONFIRM, MAC_NO_ACK, SUCCESS, ZDO_STATE_CHANGE_IND, ZnpAir
from radios.sim.znp.frames import CommandType, Frame, Subsystem
from radios.sim.znp.wire import PayloadError, Reader

log = logging.getLogger(__name__)

t: Any = _t
zdo_t: Any = _zdo_t

#: SYS_PING capabilities: SYS MAC NWK AF ZDO SAPI UTIL APP APP_CNF
CAPABILITIES = 0x057F
#: SYS_VERSION: transport 2, product 1 (Z-Stack 3.x), release 2.7.1, build date, no bootloader
VERSION = (2, 1, 2, 7, 1)
BUILD = 20240710

RESET_POWER_UP = 0x00
RESET_EXTERNAL = 0x01
RESET_WATCHDOG = 0x02

BDB_FORMATION = 0x04
BDB_STATUS_SUCCESS = 0x00
BDB_STATUS_IN_PROGRESS = 0x01
BDB_STATUS_FORMATION_FAILURE = 0x08

STATE_STARTING_AS_COORDINATOR = 8
STATE_STARTED_AS_COORDINATOR = 9

RPC_INVALID_SUBSYSTEM = 0x01
RPC_INVALID_COMMAND = 0x02
RPC_INVALID_LENGTH = 0x04

APS_DUPLICATE_ENTRY = 0xB8

Handler = Callable[[Reader], bytes | None]

#: UTIL_ASSOC_FIND_DEVICE's empty record: 28 bytes, the packed struct of a CC26x2 (no padding)
EMPTY_ASSOC = struct.pack("<HH", 0xFFFE, 0xFFFF) + bytes([0xFF]) + bytes(23)


def _fixed(size: int, answer: bytes) -> Handler:
    """A handler for a request of `size` bytes whose fields do not matter here."""

    def handler(reader: Reader) -> bytes:
        reader.raw(size)
        return answer

    return handler


class ZnpCoordinator:
    """The coordinator's firmware: MT requests in, SRSPs and callbacks out through `send`."""

    def __init__(
        self,
        nv: nvm.NvStore,
        hardware_ieee: EUI64,
        send: Callable[[Frame], None],
        changed: Callable[[], None],
    ) -> None:
        self.nv = nv
        self.hardware_ieee = hardware_ieee
        self._send = send
        self._changed = changed
        self.air = ZnpAir(send, changed)
        self.primary_channels = 0x07FFF800
        self.unhandled: dict[tuple[int, int, int], int] = {}
        #: answer nothing at all (a hung firmware; a fault for tests)
        self.mute = False
        #: called with every request frame from the host (tests await these)
        self.request_callbacks: list[Callable[[Frame], None]] = []
        self.requests = 0
        self._descriptors: dict[int, tuple[int, int, list[int], list[int]]] = {}
        self._pending: list[Frame] = []
        self._handlers: dict[tuple[int, int], Handler] = {
            (Subsystem.SYS, 0x00): self._reset_req,
            (Subsystem.SYS, 0x01): lambda r: wire.u16(CAPABILITIES),
            (Subsystem.SYS, 0x02): self._version,
            (Subsystem.SYS, 0x07): self._osal_item_init,
            (Subsystem.SYS, 0x08): lambda r: self._osal_read(r.u16(), r.u8()),
            (Subsystem.SYS, 0x09): lambda r: self._osal_write(r.u16(), r.u8(), r.short_bytes()),
            (Subsystem.SYS, 0x12): self._osal_delete,
            (Subsystem.SYS, 0x13): lambda r: wire.u16(self.nv.length(nvm.osal_key(r.u16()))),
            (Subsystem.SYS, 0x14): _fixed(1, wire.i8(SUCCESS)),  # set TX power: 3.30 answers a status
            (Subsystem.SYS, 0x1C): lambda r: self._osal_read(r.u16(), r.u16()),
            (Subsystem.SYS, 0x1D): lambda r: self._osal_write(r.u16(), r.u16(), r.long_bytes()),
            (Subsystem.SYS, 0x30): self._nv_create,
            (Subsystem.SYS, 0x31): lambda r: self._status(
                self.nv.delete(self._ex_key(r)), nvm.STATUS_NV_ITEM_UNINIT
            ),
            (Subsystem.SYS, 0x32): lambda r: wire.u32(self.nv.length(self._ex_key(r))),
            (Subsystem.SYS, 0x33): self._nv_read,
            (Subsystem.SYS, 0x34): self._nv_write,
            (Subsystem.UTIL, 0x0A): _fixed(2, bytes([SUCCESS])),  # LED control
            (Subsystem.UTIL, 0x49): _fixed(1, EMPTY_ASSOC),  # associated device by index
            (Subsystem.APP_CNF, 0x05): self._bdb_start_commissioning,
            (Subsystem.APP_CNF, 0x08): self._bdb_set_channel,
            (Subsystem.ZDO, 0x36): self._mgmt_permit_join,
            (Subsystem.ZDO, 0x37): _fixed(11, bytes([SUCCESS])),  # network update (channel change)
            (Subsystem.ZDO, 0x3E): _fixed(2, bytes([SUCCESS])),  # ZDO message callback register
            (Subsystem.ZDO, 0x40): self._startup_from_app,
            (Subsystem.ZDO, 0x45): _fixed(4, bytes([SUCCESS])),  # route discovery
            (Subsystem.ZDO, 0x46): _fixed(4, bytes([SUCCESS])),  # route check: every route is active
            (Subsystem.AF, 0x00): self._af_register,
            (Subsystem.AF, 0x01): self._af_data_request,
            (Subsystem.AF, 0x02): self._af_data_request_ext,
            (Subsystem.AF, 0x03): self._af_data_request_src_rtg,
        }
        self._boot(RESET_POWER_UP, indicate=False)

    # --- dispatch -----------------------------------------------------------------------------------

    def handle(self, frame: Frame) -> None:
        """Process one request from the host."""
        self.requests += 1
        for callback in self.request_callbacks:
            callback(frame)
        if self.mute:
            return  # a hung firmware: the link is up, nothing answers
        handler = self._handlers.get((frame.subsystem, frame.command))
        if handler is None:
            key = (frame.type, frame.subsystem, frame.command)
            if key not in self.unhandled:
                log.warning("ZNP emulator: unhandled MT request %s", frame)
            self.unhandled[key] = self.unhandled.get(key, 0) + 1
            if frame.type == CommandType.SREQ:
                self._rpc_error(frame, RPC_INVALID_COMMAND)
            return
        try:
            answer = handler(Reader(frame.payload))
        except PayloadError as exc:
            log.warning("ZNP emulator: malformed %s: %s", frame, exc)
            if frame.type == CommandType.SREQ:
                self._rpc_error(frame, RPC_INVALID_LENGTH)
            return
        if frame.type == CommandType.SREQ:
            if answer is None:  # an AREQ-only command (reset) sent as a request: Z-Stack refuses it
                self._rpc_error(frame, RPC_INVALID_COMMAND)
            else:
                self._send(Frame(CommandType.SRSP, frame.subsystem, frame.command, answer))
        self._flush()

    def _rpc_error(self, frame: Frame, code: int) -> None:
        self._send(
            Frame(CommandType.SRSP, Subsystem.RPC_ERROR, 0x00, bytes([code, frame.cmd0, frame.command]))
        )

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for frame in pending:
            self._send(frame)

    def _callback(self, subsystem: Subsystem, command: int, payload: bytes) -> None:
        """Queue an AREQ to go out after the current request's SRSP."""
        self._pending.append(Frame(CommandType.AREQ, subsystem, command, payload))

    @staticmethod
    def _status(ok: bool, failure: int) -> bytes:
        return bytes([SUCCESS if ok else failure])

    # --- SYS: reset and version ---------------------------------------------------------------------

    def _reset_req(self, reader: Reader) -> None:
        reader.u8()  # hard or soft: both reboot the firmware here
        self._boot(RESET_EXTERNAL, indicate=True)

    def reset(self, reason: int = RESET_WATCHDOG) -> None:
        """A spontaneous reboot (watchdog, brown-out): the network stops, endpoints are forgotten."""
        self._boot(reason, indicate=True)
        self._flush()

    def _boot(self, reason: int, *, indicate: bool) -> None:
        self._descriptors.clear()
        option = self.nv.get(nvm.Osal.STARTUP_OPTION) or b"\x00"
        if option[0] & (nvm.StartupOption.CLEAR_CONFIG | nvm.StartupOption.CLEAR_STATE):
            # The coordinator forgets its network; the devices still remember the one they joined.
            self.nv.items = nvm.blank(self._hardware_bytes()).items
        if self.nv.get(nvm.Osal.EXTADDR) is None:
            self.nv.put(nvm.Osal.EXTADDR, self._hardware_bytes())
        self.air.network = None
        self.air.endpoints.clear()
        self.air.permit(0)
        self._changed()
        if indicate:
            self._callback(Subsystem.SYS, 0x80, bytes([reason, *VERSION]))

    def _hardware_bytes(self) -> bytes:
        data: bytes = self.hardware_ieee.serialize()
        return data

    def _version(self, reader: Reader) -> bytes:
        return bytes(VERSION) + wire.u32(BUILD) + b"\x00" + wire.u32(0xFFFFFFFF)

    # --- SYS: NV ------------------------------------------------------------------------------------

    def _nv_call(self, operation: Callable[[], bytes]) -> bytes:
        try:
            result = operation()
        except nvm.NvError as exc:
            return bytes([exc.status])
        self._changed()
        return result

    def _osal_item_init(self, reader: Reader) -> bytes:
        key = nvm.osal_key(reader.u16())
        length = reader.u16()
        initial = reader.short_bytes()

        def init() -> bytes:
            created = self.nv.create(key, length, initial)
            # Z-Stack answers "uninitialised" when it had to create the item.
            return bytes([nvm.STATUS_NV_ITEM_UNINIT if created else SUCCESS])

        return self._nv_call(init)

    def _osal_read(self, nv_id: int, offset: int) -> bytes:
        try:
            value = self.nv.read(nvm.osal_key(nv_id), offset)
        except nvm.NvError as exc:
            return bytes([exc.status, 0])
        return bytes([SUCCESS]) + wire.short_bytes(value)

    def _osal_write(self, nv_id: int, offset: int, value: bytes) -> bytes:
        return self._nv_call(lambda: self._write(nvm.osal_key(nv_id), offset, value))

    def _osal_delete(self, reader: Reader) -> bytes:
        key = nvm.osal_key(reader.u16())
        length = reader.u16()
        if self.nv.length(key) == 0:
            return bytes([nvm.STATUS_NV_ITEM_UNINIT])
        if self.nv.length(key) != length:
            return bytes([nvm.STATUS_NV_BAD_ITEM_LEN])
        return self._nv_call(lambda: self._status(self.nv.delete(key), nvm.STATUS_NV_ITEM_UNINIT))

    @staticmethod
    def _ex_key(reader: Reader) -> nvm.Key:
        return (reader.u8(), reader.u16(), reader.u16())

    def _nv_create(self, reader: Reader) -> bytes:
        key = self._ex_key(reader)
        length = reader.u32()
        return self._nv_call(
            lambda: bytes([SUCCESS if self.nv.create(key, length) else nvm.STATUS_NV_ITEM_UNINIT])
        )

    def _nv_read(self, reader: Reader) -> bytes:
        key = self._ex_key(reader)
        offset = reader.u16()
        size = reader.u8()
        try:
            value = self.nv.read(key, offset, size)
        except nvm.NvError as exc:
            return bytes([exc.status, 0])
        return bytes([SUCCESS]) + wire.short_bytes(value)

    def _nv_write(self, reader: Reader) -> bytes:
        key = self._ex_key(reader)
        offset = reader.u16()
        value = reader.short_bytes()
        return self._nv_call(lambda: self._write(key, offset, value))

    def _write(self, key: nvm.Key, offset: int, value: bytes) -> bytes:
        self.nv.write(key, offset, value)
        return bytes([SUCCESS])

    # --- APP_CNF: BDB commissioning (formation) -----------------------------------------------------

    def _bdb_set_channel(self, reader: Reader) -> bytes:
        primary = reader.u8()
        channels = reader.u32()
        if primary:
            self.primary_channels = channels
        return bytes([SUCCESS])

    def _bdb_start_commissioning(self, reader: Reader) -> bytes:
        mode = reader.u8()
        if not mode & BDB_FORMATION:
            return bytes([SUCCESS])  # steering or finding & binding: nothing to do for a coordinator
        self._callback(Subsystem.ZDO, ZDO_STATE_CHANGE_IND, bytes([STATE_STARTING_AS_COORDINATOR]))
        self._callback(Subsystem.APP_CNF, 0x80, bytes([BDB_STATUS_IN_PROGRESS, BDB_FORMATION, BDB_FORMATION]))
        formed = not self.nv.on_network()
        if formed:
            self._form()
        if not self._start_network():
            self._callback(Subsystem.APP_CNF, 0x80, bytes([BDB_STATUS_FORMATION_FAILURE, BDB_FORMATION, 0]))
            return bytes([SUCCESS])
        self._callback(Subsystem.ZDO, ZDO_STATE_CHANGE_IND, bytes([STATE_STARTED_AS_COORDINATOR]))
        # Z-Stack reports "formation failure" when it resumed a stored network rather than forming one.
        status = BDB_STATUS_SUCCESS if formed else BDB_STATUS_FORMATION_FAILURE
        self._callback(Subsystem.APP_CNF, 0x80, bytes([status, BDB_FORMATION, 0]))
        return bytes([SUCCESS])

    def _startup_from_app(self, reader: Reader) -> bytes:
        reader.u16()
        restored = self.nv.on_network()
        if not restored:
            self._form()
        self._start_network()
        self._callback(Subsystem.ZDO, ZDO_STATE_CHANGE_IND, bytes([STATE_STARTED_AS_COORDINATOR]))
        return bytes([0 if restored else 1])

    def form(self, channel: int) -> None:
        """Form a network on `channel` now, as a stick that a previous host already set up."""
        if not 11 <= channel <= 26:
            raise ValueError(f"channel {channel} is not within 11..26")
        self.primary_channels = 1 << channel
        if not self.nv.on_network():
            self._form()

    def _form(self) -> None:
        channels = [c for c in range(11, 27) if self.primary_channels & (1 << c)] or [11]
        pan = struct.unpack("<H", self.nv.get(nvm.Osal.PANID) or b"\xff\xff")[0]
        if pan in (0xFFFF, 0xFFFE, 0x0000):
            pan = random.randint(0x0001, 0xFFF0)  # noqa: S311 - a PAN id, not a secret
        extended = self.nv.get(nvm.Osal.APS_USE_EXT_PANID) or bytes(8)
        if extended in (bytes(8), b"\xff" * 8):
            extended = os.urandom(8)
        key = self.nv.get(nvm.Osal.PRECFGKEY) or os.urandom(16)
        network = nvm.Network(channels[0], pan, extended, key)
        nvm.store_network(self.nv, network, self.primary_channels)
        log.info("ZNP emulator formed a network: channel %d, PAN 0x%04x", network.channel, pan)
        self._changed()

    def _start_network(self) -> bool:
        network = self.nv.network()
        if network is None:
            return False
        self.air.network = network.identity
        return True

    # --- ZDO ----------------------------------------------------------------------------------------

    def _mgmt_permit_join(self, reader: Reader) -> bytes:
        mode = reader.u8()
        dst = reader.u16()
        duration = reader.u8()
        reader.u8()
        if self.air.network is None:
            return bytes([0xC2])  # ZNwkInvalidRequest: no network running
        self.air.permit(duration)
        src = 0x0000 if mode == t.AddrMode.Broadcast else dst
        self._callback(Subsystem.ZDO, 0xB6, wire.u16(src) + bytes([SUCCESS]))
        return bytes([SUCCESS])

    # --- AF -----------------------------------------------------------------------------------------

    def _af_register(self, reader: Reader) -> bytes:
        endpoint = reader.u8()
        profile = reader.u16()
        device_type = reader.u16()
        reader.u8()  # device version
        reader.u8()  # latency
        inputs = reader.u16_list()
        outputs = reader.u16_list()
        if endpoint in self.air.endpoints:
            return bytes([APS_DUPLICATE_ENTRY])
        self.air.endpoints.add(endpoint)
        self._descriptors[endpoint] = (profile, device_type, inputs, outputs)
        return bytes([SUCCESS])

    def _af_data_request(self, reader: Reader) -> bytes:
        dst = reader.u16()
        dst_ep, src_ep, cluster, tsn = reader.u8(), reader.u8(), reader.u16(), reader.u8()
        reader.raw(2)  # options, radius
        return self._send_data(t.AddrMode.NWK, dst, dst_ep, src_ep, cluster, tsn, reader.short_bytes())

    def _af_data_request_ext(self, reader: Reader) -> bytes:
        mode = reader.u8()
        raw_address = reader.raw(8)
        dst_ep = reader.u8()
        reader.u16()  # destination PAN: inter-PAN is not emulated
        src_ep, cluster, tsn = reader.u8(), reader.u16(), reader.u8()
        reader.raw(2)
        data = reader.long_bytes()
        address: int | EUI64 = (
            t.EUI64.deserialize(raw_address)[0]
            if mode == t.AddrMode.IEEE
            else struct.unpack_from("<H", raw_address)[0]
        )
        return self._send_data(mode, address, dst_ep, src_ep, cluster, tsn, data)

    def _af_data_request_src_rtg(self, reader: Reader) -> bytes:
        dst = reader.u16()
        dst_ep, src_ep, cluster, tsn = reader.u8(), reader.u8(), reader.u16(), reader.u8()
        reader.raw(2)
        reader.u16_list()  # the relays: every device hears the coordinator directly here
        return self._send_data(t.AddrMode.NWK, dst, dst_ep, src_ep, cluster, tsn, reader.short_bytes())

    def _send_data(
        self, mode: int, address: int | EUI64, dst_ep: int, src_ep: int, cluster: int, tsn: int, data: bytes
    ) -> bytes:
        air = self.air
        if air.network is None:
            return bytes([0xC2])  # no network: Z-Stack refuses the request outright
        if mode == t.AddrMode.Group:
            assert isinstance(address, int)
            air.group_cast(address, dst_ep, src_ep, cluster, tsn, data)
            self._confirm(SUCCESS, src_ep, tsn)
            return bytes([SUCCESS])
        if mode == t.AddrMode.Broadcast:
            assert isinstance(address, int)
            air.broadcast(address, dst_ep, src_ep, cluster, tsn, data)
            return bytes([SUCCESS])
        if dst_ep == 0 and mode == t.AddrMode.NWK and address == 0x0000:
            self._coordinator_zdo(cluster, data)
            return bytes([SUCCESS])
        delivered = air.unicast(mode, address, dst_ep, src_ep, cluster, tsn, data)
        if dst_ep != 0:  # ZDO requests get no data confirm from Z-Stack
            self._confirm(SUCCESS if delivered else MAC_NO_ACK, src_ep, tsn)
        return bytes([SUCCESS])

    def _coordinator_zdo(self, cluster: int, data: bytes) -> None:
        """Answer a ZDO request the host addressed to the coordinator itself."""
        z = zdo_t.ZDOCmd
        tsn = data[0] if data else 0
        ieee = self.nv.get(nvm.Osal.EXTADDR) or self._hardware_bytes()
        nwk = t.NWK(0x0000)
        if cluster == z.Node_Desc_req:
            desc = zdo_t.NodeDescriptor(
                logical_type=zdo_t.LogicalType.Coordinator,
                complex_descriptor_available=0,
                user_descriptor_available=0,
                reserved=0,
                aps_flags=0,
                frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
                mac_capability_flags=0x8F,
                manufacturer_code=0x0000,
                maximum_buffer_size=80,
                maximum_incoming_transfer_size=160,
                server_mask=0x2C41,
                maximum_outgoing_transfer_size=160,
                descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
            )
            rsp, args = z.Node_Desc_rsp, [zdo_t.Status.SUCCESS, nwk, desc]
        elif cluster == z.Active_EP_req:
            rsp, args = z.Active_EP_rsp, [zdo_t.Status.SUCCESS, nwk, sorted(self.air.endpoints)]
        elif cluster == z.Simple_Desc_req and len(data) >= 4:
            endpoint = data[3]
            entry = self._descriptors.get(endpoint)
            if entry is None or endpoint not in self.air.endpoints:
                rsp, args = z.Simple_Desc_rsp, [zdo_t.Status.NOT_ACTIVE, nwk, None]
            else:
                profile, device_type, inputs, outputs = entry
                desc = zdo_t.SizePrefixedSimpleDescriptor(
                    endpoint=endpoint,
                    profile=profile,
                    device_type=device_type,
                    device_version=0,
                    input_clusters=inputs,
                    output_clusters=outputs,
                )
                rsp, args = z.Simple_Desc_rsp, [zdo_t.Status.SUCCESS, nwk, desc]
        elif cluster == z.IEEE_addr_req:
            rsp, args = z.IEEE_addr_rsp, [zdo_t.Status.SUCCESS, t.EUI64.deserialize(ieee)[0], nwk]
        else:
            return  # other requests to ourselves: Z-Stack answers none the host relies on
        _, types = zdo_t.CLUSTERS[rsp]
        body: bytes = t.serialize(args, types[: len(args)])
        self.air.zdo_from_coordinator(int(rsp), tsn, body)

    def _confirm(self, status: int, endpoint: int, tsn: int) -> None:
        """AF_DATA_CONFIRM after the request's SRSP (none while confirms are stuck)."""
        if not self.air.stuck_confirms:
            self._callback(Subsystem.AF, AF_DATA_CONFIRM, bytes([status, endpoint, tsn]))
