"""Simulated Zigbee devices that answer ZDO and ZCL like real ones, whatever carries their frames.

Rules of this file: every frame is built and parsed with zigpy's own types (ZDO schemas, ZCL headers,
cluster command schemas, `TypeValue`), never hand-made bytes, except `send_raw` which exists to inject
malformed frames. Nothing here sleeps or reads a clock. A device reports an attribute only once the
coordinator bound its cluster and configured reporting for that attribute, and sends remote-control
commands only to a bound coordinator, as real devices do. What carries the frames (the simulated air
under our own ControllerApplication, or the ZNP emulator under zigpy-znp) is a `DeviceAir`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

import zigpy.exceptions
import zigpy.profiles.zha as zha
import zigpy.state
import zigpy.zcl
from zigpy.types import ZigbeePacket
from zigpy.zcl.clusters import (
    closures,
    general,
    lighting,
    security,
)

from radios.sim.zigbee_zcl import (
    COORDINATOR_NWK,
    ZDO_ENDPOINT,
    SimCluster,
    SimEndpoint,
    foundation,
    parse_zcl,
    t,
    type_value,
    zdo,
    zdo_t,
)

log = logging.getLogger(__name__)
#: ZCL commands a device keeps for tests to inspect (the oldest are forgotten).
RECEIVED_LOG = 64


class DeviceAir(Protocol):
    """What carries a simulated device's frames to the coordinator."""

    def from_device(
        self, device: SimZigbeeDevice, endpoint: int, cluster_id: int, data: bytes, *, dst_ep: int
    ) -> None:
        """`device` sends a frame to the coordinator on its own initiative."""

    def leave(self, device: SimZigbeeDevice) -> None:
        """`device` leaves the network."""


class SimZigbeeDevice:
    """A simulated Zigbee device: answers ZDO and ZCL, keeps state, reports what it was asked to."""

    def __init__(
        self,
        ieee: str,
        nwk: int,
        name: str,
        model: str,
        endpoints: Iterable[SimEndpoint],
        *,
        mains: bool = True,
        manufacturer: str = "hub-agent sim",
    ) -> None:
        self.ieee = t.EUI64.convert(ieee)
        self.nwk = t.NWK(nwk)
        self.name = name
        self.model = model
        self.manufacturer = manufacturer
        self.mains = mains
        self.endpoints: dict[int, SimEndpoint] = {ep.id: ep for ep in endpoints}
        self.reachable = True
        #: acknowledges frames (APS) but never answers them, like a device stuck mid-command
        self.silent = False
        self.joined = False
        self.left = False
        #: (endpoint, cluster) pairs bound to the coordinator
        self.bindings: set[tuple[int, int]] = set()
        #: every ZCL command this device received: (endpoint, cluster, command name, args)
        #: (the most recent RECEIVED_LOG; bounded so a long-running simulated hub stays flat)
        self.received: deque[tuple[int, int, str, Any]] = deque(maxlen=RECEIVED_LOG)
        self.air: DeviceAir | None = None
        self._tsn = itertools.count(1)
        self._last_move = 1
        for ep in self.endpoints.values():
            basic = ep.server.get(general.Basic.cluster_id)
            if basic is not None:
                basic.attributes.setdefault(general.Basic.AttributeDefs.manufacturer.id, manufacturer)
                basic.attributes.setdefault(general.Basic.AttributeDefs.model.id, model)
                basic.attributes.setdefault(general.Basic.AttributeDefs.location_desc.id, name[:16])
                basic.attributes.setdefault(
                    general.Basic.AttributeDefs.power_source.id,
                    general.Basic.PowerSource.Mains_single_phase
                    if mains
                    else general.Basic.PowerSource.Battery,
                )

    def __repr__(self) -> str:
        return f"<SimZigbeeDevice {self.ieee} {self.name!r}>"

    # --- state the tests and the demo drive -------------------------------------------------------

    def cluster(self, cluster: int | type[zigpy.zcl.Cluster], endpoint: int | None = None) -> SimCluster:
        """The server cluster with this id (on `endpoint`, or the first endpoint that has it)."""
        cluster_id = cluster if isinstance(cluster, int) else cluster.cluster_id
        for ep in self.endpoints.values():
            if (endpoint is None or ep.id == endpoint) and cluster_id in ep.server:
                return ep.server[cluster_id]
        raise KeyError(f"{self.name} has no cluster 0x{cluster_id:04x}")

    def get_attribute(self, cluster: int | type[zigpy.zcl.Cluster], attribute: str | int) -> Any:
        """The raw ZCL value of an attribute."""
        sim = self.cluster(cluster)
        attrid = attribute if isinstance(attribute, int) else sim.cls.attributes_by_name[attribute].id
        return sim.attributes.get(attrid)

    def set_attribute(
        self, cluster: int | type[zigpy.zcl.Cluster], attribute: str | int, value: Any, *, report: bool = True
    ) -> None:
        """Change an attribute (raw ZCL units) as the device itself would; report it if configured."""
        sim = self.cluster(cluster)
        attrid = attribute if isinstance(attribute, int) else sim.cls.attributes_by_name[attribute].id
        sim.attributes[attrid] = value
        if report:
            self._report(sim, [attrid])

    def zone_alarm(self, alarm: bool) -> None:
        """An IAS zone sensor trips (`alarm`) or restores: a Zone Status Change Notification."""
        sim = self.cluster(security.IasZone)
        zone_status: Any = security.IasZone.ZoneStatus
        status = zone_status.Alarm_1 if alarm else zone_status(0)
        sim.attributes[security.IasZone.AttributeDefs.zone_status.id] = status
        if sim.attributes.get(security.IasZone.AttributeDefs.cie_addr.id) is None:
            return  # not enrolled: a real zone has nobody to tell
        schema = security.IasZone.client_commands[0x00].schema
        payload = schema(zone_status=status, extended_status=0, zone_id=1, delay=0)
        self._send_cluster(security.IasZone.cluster_id, 0x00, payload, server_to_client=True)

    def press(self, command: str, **kwargs: Any) -> None:
        """A remote sends `command` (an On/Off or Level Control command name) to its bound controller."""
        for cls in (general.OnOff, general.LevelControl):
            for cmd in cls.server_commands.values():
                if cmd.name == command:
                    self._send_cluster(cls.cluster_id, cmd.id, cmd.schema(**kwargs), server_to_client=False)
                    return
        raise KeyError(f"no remote command {command!r}")

    def send_raw(
        self, cluster_id: int, data: bytes, *, endpoint: int | None = None, zdo: bool = False
    ) -> None:
        """Put arbitrary bytes on the air as a ZCL (or, with `zdo`, a ZDO) frame from this device."""
        if zdo:
            self._emit(ZDO_ENDPOINT, cluster_id, data, dst_ep=ZDO_ENDPOINT)
            return
        ep = endpoint if endpoint is not None else next(iter(self.endpoints))
        self._emit(ep, cluster_id, data)

    def report_all(self) -> None:
        """Send every configured report now, as the devices' maximum reporting interval would."""
        for ep in self.endpoints.values():
            for sim in ep.server.values():
                if sim.reporting:
                    self._report(sim, list(sim.reporting))

    # --- frames out ---------------------------------------------------------------------------------

    def _endpoint_of(self, cluster_id: int) -> int:
        for ep in self.endpoints.values():
            if cluster_id in ep.server or cluster_id in ep.client:
                return ep.id
        raise KeyError(cluster_id)

    def _report(self, sim: SimCluster, attrids: list[int]) -> None:
        ep = self._endpoint_of(sim.cls.cluster_id)
        if (ep, sim.cls.cluster_id) not in self.bindings:
            return
        records = [
            foundation.Attribute(attrid=a, value=type_value(sim.cls, a, sim.attributes[a]))
            for a in attrids
            if a in sim.reporting and sim.attributes.get(a) is not None
        ]
        if not records:
            return
        hdr = foundation.ZCLHeader.general(
            self._next_tsn(),
            foundation.GeneralCommand.Report_Attributes,
            direction=foundation.Direction.Server_to_Client,
        )
        hdr.frame_control = hdr.frame_control.replace(disable_default_response=True)
        body = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Report_Attributes].schema(
            attribute_reports=records
        )
        self._emit(ep, sim.cls.cluster_id, hdr.serialize() + body.serialize())

    def _send_cluster(
        self, cluster_id: int, command_id: int, payload: Any, *, server_to_client: bool
    ) -> None:
        ep = self._endpoint_of(cluster_id)
        if (ep, cluster_id) not in self.bindings:
            return
        direction = (
            foundation.Direction.Server_to_Client
            if server_to_client
            else foundation.Direction.Client_to_Server
        )
        hdr = foundation.ZCLHeader.cluster(self._next_tsn(), command_id, direction=direction)
        self._emit(ep, cluster_id, hdr.serialize() + payload.serialize())

    def _emit(self, endpoint: int, cluster_id: int, data: bytes, *, dst_ep: int = 1) -> None:
        if self.air is not None and self.joined and self.reachable:
            self.air.from_device(self, endpoint, cluster_id, data, dst_ep=dst_ep)

    def _next_tsn(self) -> int:
        return next(self._tsn) & 0xFF

    # --- frames in ----------------------------------------------------------------------------------

    def handle(self, packet: ZigbeePacket, *, group: bool = False) -> list[ZigbeePacket]:
        """Process one packet from the coordinator; return the answers to send back."""
        data = packet.data.serialize()
        if self.silent:
            return []
        if packet.dst_ep == ZDO_ENDPOINT and packet.profile_id == 0:
            return self._handle_zdo(packet, data)
        endpoints = (
            [ep for ep in self.endpoints.values() if int(packet.dst.address) in ep.groups]  # type: ignore[arg-type]
            if group and packet.dst is not None
            else [self.endpoints[packet.dst_ep]]
            if packet.dst_ep in self.endpoints
            else []
        )
        answers = []
        for ep in endpoints:
            answer = self._handle_zcl(ep, packet, data, group=group)
            if answer is not None:
                answers.append(answer)
        return answers

    def _handle_zdo(self, packet: ZigbeePacket, data: bytes) -> list[ZigbeePacket]:
        hdr, args = zdo.ZDO(None).deserialize(packet.cluster_id, data)
        cmd = hdr.command_id
        z = zdo_t.ZDOCmd
        if cmd == z.Node_Desc_req:
            rsp: tuple[int, list[Any]] = (
                z.Node_Desc_rsp,
                [zdo_t.Status.SUCCESS, self.nwk, self._node_descriptor()],
            )
        elif cmd == z.Active_EP_req:
            rsp = (z.Active_EP_rsp, [zdo_t.Status.SUCCESS, self.nwk, list(self.endpoints)])
        elif cmd == z.Simple_Desc_req:
            ep = self.endpoints.get(args[1])
            if ep is None:
                rsp = (z.Simple_Desc_rsp, [zdo_t.Status.NOT_ACTIVE, self.nwk, None])
            else:
                rsp = (z.Simple_Desc_rsp, [zdo_t.Status.SUCCESS, self.nwk, ep.descriptor()])
        elif cmd in (z.Bind_req, z.Unbind_req):
            pair = (int(args[1]), int(args[2]))
            if cmd == z.Bind_req:
                self.bindings.add(pair)
            else:
                self.bindings.discard(pair)
            rsp = (z.Bind_rsp if cmd == z.Bind_req else z.Unbind_rsp, [zdo_t.Status.SUCCESS])
        elif cmd == z.Mgmt_Leave_req:
            rsp = (z.Mgmt_Leave_rsp, [zdo_t.Status.SUCCESS])
            if self.air is not None:
                asyncio.get_running_loop().call_soon(self.air.leave, self)
        elif cmd == z.IEEE_addr_req:
            rsp = (z.IEEE_addr_rsp, [zdo_t.Status.SUCCESS, self.ieee, self.nwk])  # no associated list
        elif cmd == z.NWK_addr_req:
            rsp = (z.NWK_addr_rsp, [zdo_t.Status.SUCCESS, self.ieee, self.nwk])
        else:
            return []  # requests we do not model get no answer, as from a minimal stack
        _, types = zdo_t.CLUSTERS[rsp[0]]
        body = t.uint8_t(hdr.tsn).serialize() + t.serialize(rsp[1], types[: len(rsp[1])])
        return [
            t.ZigbeePacket(
                src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.nwk),
                src_ep=ZDO_ENDPOINT,
                dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK),
                dst_ep=ZDO_ENDPOINT,
                tsn=hdr.tsn,
                profile_id=0,
                cluster_id=rsp[0],
                data=t.SerializableBytes(body),
            )
        ]

    def _node_descriptor(self) -> Any:
        flags = zdo_t.NodeDescriptor.MACCapabilityFlags
        if self.mains:
            logical = zdo_t.LogicalType.Router
            caps = flags.FullFunctionDevice | flags.MainsPowered | flags.RxOnWhenIdle | flags.AllocateAddress
        else:
            logical = zdo_t.LogicalType.EndDevice
            caps = flags.AllocateAddress
        return zdo_t.NodeDescriptor(
            logical_type=logical,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=caps,
            manufacturer_code=0x1234,
            maximum_buffer_size=82,
            maximum_incoming_transfer_size=82,
            server_mask=0,
            maximum_outgoing_transfer_size=82,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )

    def _handle_zcl(
        self, ep: SimEndpoint, packet: ZigbeePacket, data: bytes, *, group: bool
    ) -> ZigbeePacket | None:
        cluster_id = int(packet.cluster_id)
        sim = ep.server.get(cluster_id)
        try:
            hdr, command = parse_zcl(cluster_id, data, to_server=True)
        except (ValueError, KeyError):
            log.debug("%s ignores an unparsable frame on cluster 0x%04x", self, cluster_id)
            return None
        if sim is None:
            return self._answer(ep, cluster_id, hdr, foundation.Status.UNSUP_CLUSTER_COMMAND, group=group)
        if hdr.frame_control.is_general:
            return self._handle_general(ep, sim, hdr, command, group=group)
        name = sim.cls.server_commands[hdr.command_id].name
        self.received.append((ep.id, cluster_id, name, command))
        return self._handle_command(ep, sim, hdr, name, command, group=group)

    def _answer(
        self,
        ep: SimEndpoint,
        cluster_id: int,
        hdr: Any,
        status: Any,
        *,
        group: bool,
        command_id: int | None = None,
        payload: Any = None,
        general_reply: bool = False,
    ) -> ZigbeePacket | None:
        """A default response (or `payload` as command `command_id`) to `hdr`, unless none is due."""
        if payload is None:
            # ZCL 2.5.12.2: no default response to a group cast, nor when the sender disabled it
            # (errors are still answered, unicast only).
            if group or (hdr.frame_control.disable_default_response and status == foundation.Status.SUCCESS):
                return None
            command_id = foundation.GeneralCommand.Default_Response
            payload = foundation.GENERAL_COMMANDS[foundation.GeneralCommand.Default_Response].schema(
                command_id=hdr.command_id, status=status
            )
            general_reply = True
        elif group:
            return None
        assert command_id is not None
        make = foundation.ZCLHeader.general if general_reply else foundation.ZCLHeader.cluster
        rsp_hdr = make(hdr.tsn, command_id, direction=foundation.Direction.Server_to_Client)
        rsp_hdr.frame_control = rsp_hdr.frame_control.replace(disable_default_response=True)
        return self._packet(ep.id, cluster_id, rsp_hdr.serialize() + payload.serialize(), tsn=hdr.tsn)

    def _packet(
        self, src_ep: int, cluster_id: int, data: bytes, *, tsn: int, dst_ep: int = 1
    ) -> ZigbeePacket:
        packet: ZigbeePacket = t.ZigbeePacket(
            src=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=self.nwk),
            src_ep=src_ep,
            dst=t.AddrModeAddress(addr_mode=t.AddrMode.NWK, address=COORDINATOR_NWK),
            dst_ep=dst_ep,
            tsn=tsn,
            profile_id=zha.PROFILE_ID,
            cluster_id=cluster_id,
            data=t.SerializableBytes(data),
            lqi=200,
            rssi=-50,
        )
        return packet

    def _handle_general(
        self, ep: SimEndpoint, sim: SimCluster, hdr: Any, command: Any, *, group: bool
    ) -> ZigbeePacket | None:
        gc = foundation.GeneralCommand
        cid = sim.cls.cluster_id
        if hdr.command_id == gc.Read_Attributes:
            records = []
            for attrid in command.attribute_ids:
                value = sim.attributes.get(attrid)
                if value is None or attrid not in sim.cls.attributes:
                    records.append(
                        foundation.ReadAttributeRecord(attrid, foundation.Status.UNSUPPORTED_ATTRIBUTE)
                    )
                else:
                    records.append(
                        foundation.ReadAttributeRecord(
                            attrid, foundation.Status.SUCCESS, type_value(sim.cls, attrid, value)
                        )
                    )
            payload = foundation.GENERAL_COMMANDS[gc.Read_Attributes_rsp].schema(status_records=records)
            return self._answer(
                ep,
                cid,
                hdr,
                foundation.Status.SUCCESS,
                group=group,
                command_id=gc.Read_Attributes_rsp,
                payload=payload,
                general_reply=True,
            )
        if hdr.command_id in (
            gc.Write_Attributes,
            gc.Write_Attributes_Undivided,
            gc.Write_Attributes_No_Response,
        ):
            failed = []
            for attr in command.attributes:
                if attr.attrid not in sim.cls.attributes:
                    failed.append(
                        foundation.WriteAttributesStatusRecord(
                            foundation.Status.UNSUPPORTED_ATTRIBUTE, attr.attrid
                        )
                    )
                    continue
                sim.attributes[attr.attrid] = attr.value.value
            for attr in command.attributes:
                self._after_write(sim, attr.attrid)
            if hdr.command_id == gc.Write_Attributes_No_Response:
                return None
            records = failed or [foundation.WriteAttributesStatusRecord(foundation.Status.SUCCESS)]
            payload = foundation.GENERAL_COMMANDS[gc.Write_Attributes_rsp].schema(status_records=records)
            return self._answer(
                ep,
                cid,
                hdr,
                foundation.Status.SUCCESS,
                group=group,
                command_id=gc.Write_Attributes_rsp,
                payload=payload,
                general_reply=True,
            )
        if hdr.command_id == gc.Configure_Reporting:
            records = []
            for config in command.config_records:
                if config.attrid in sim.cls.attributes:
                    sim.reporting[config.attrid] = (config.min_interval, config.max_interval)
                else:
                    records.append(
                        foundation.ConfigureReportingResponseRecord(
                            status=foundation.Status.UNSUPPORTED_ATTRIBUTE,
                            direction=foundation.ReportingDirection.SendReports,
                            attrid=config.attrid,
                        )
                    )
            if not records:
                records = [foundation.ConfigureReportingResponseRecord(status=foundation.Status.SUCCESS)]
            payload = foundation.GENERAL_COMMANDS[gc.Configure_Reporting_rsp].schema(
                status_records=foundation.ConfigureReportingResponse(records)
            )
            return self._answer(
                ep,
                cid,
                hdr,
                foundation.Status.SUCCESS,
                group=group,
                command_id=gc.Configure_Reporting_rsp,
                payload=payload,
                general_reply=True,
            )
        if hdr.command_id == gc.Default_Response:
            return None
        return self._answer(ep, cid, hdr, foundation.Status.UNSUP_GENERAL_COMMAND, group=group)

    def _after_write(self, sim: SimCluster, attrid: int) -> None:
        if sim.cls is security.IasZone and attrid == security.IasZone.AttributeDefs.cie_addr.id:
            sim.attributes[security.IasZone.AttributeDefs.zone_state.id] = security.IasZone.ZoneState.Enrolled
        self._report(sim, [attrid])

    def _handle_command(
        self, ep: SimEndpoint, sim: SimCluster, hdr: Any, name: str, cmd: Any, *, group: bool
    ) -> ZigbeePacket | None:
        ok = foundation.Status.SUCCESS
        cls = sim.cls
        if cls is general.OnOff:
            on_id = general.OnOff.AttributeDefs.on_off.id
            current = bool(sim.attributes.get(on_id, False))
            new = {"on": True, "off": False, "toggle": not current}.get(name, current)
            sim.attributes[on_id] = t.Bool(new)
            self._report(sim, [on_id])
            return self._answer(ep, cls.cluster_id, hdr, ok, group=group)
        if cls is general.LevelControl:
            level_id = general.LevelControl.AttributeDefs.current_level.id
            if name in ("move_to_level", "move_to_level_with_on_off"):
                sim.attributes[level_id] = int(cmd.level)
                sim.attributes[general.LevelControl.AttributeDefs.remaining_time.id] = 0
                if name == "move_to_level_with_on_off" and general.OnOff.cluster_id in ep.server:
                    onoff = ep.server[general.OnOff.cluster_id]
                    onoff.attributes[general.OnOff.AttributeDefs.on_off.id] = t.Bool(int(cmd.level) > 0)
                    self._report(onoff, [general.OnOff.AttributeDefs.on_off.id])
                self._report(sim, [level_id])
            return self._answer(ep, cls.cluster_id, hdr, ok, group=group)
        if cls is lighting.Color:
            if name == "move_to_color_temp":
                attr = lighting.Color.AttributeDefs.color_temperature.id
                sim.attributes[attr] = int(cmd.color_temp_mireds)
                self._report(sim, [attr])
            return self._answer(ep, cls.cluster_id, hdr, ok, group=group)
        if cls is general.Groups:
            return self._handle_groups(ep, sim, hdr, name, cmd, group=group)
        if cls is closures.DoorLock and name in ("lock_door", "unlock_door"):
            state_id = closures.DoorLock.AttributeDefs.lock_state.id
            jammed = sim.attributes.get(state_id) == closures.DoorLock.LockState.Not_fully_locked
            status = foundation.Status.FAILURE if jammed else ok
            if not jammed:
                sim.attributes[state_id] = (
                    closures.DoorLock.LockState.Locked
                    if name == "lock_door"
                    else closures.DoorLock.LockState.Unlocked
                )
            rsp = closures.DoorLock.client_commands[hdr.command_id]
            answer = self._answer(
                ep, cls.cluster_id, hdr, ok, group=group, command_id=rsp.id, payload=rsp.schema(status=status)
            )
            self._report(sim, [state_id])
            return answer
        return self._answer(ep, cls.cluster_id, hdr, ok, group=group)

    def _handle_groups(
        self, ep: SimEndpoint, sim: SimCluster, hdr: Any, name: str, cmd: Any, *, group: bool
    ) -> ZigbeePacket | None:
        client = general.Groups.client_commands
        ok = foundation.Status.SUCCESS
        if name == "add":
            ep.groups.add(int(cmd.group_id))
            rsp = client[0x00]
            payload = rsp.schema(status=ok, group_id=cmd.group_id)
        elif name == "remove":
            found = int(cmd.group_id) in ep.groups
            ep.groups.discard(int(cmd.group_id))
            rsp = client[0x03]
            payload = rsp.schema(status=ok if found else foundation.Status.NOT_FOUND, group_id=cmd.group_id)
        elif name == "get_membership":
            rsp = client[0x02]
            payload = rsp.schema(capacity=16, groups=sorted(ep.groups))
        elif name == "remove_all":
            ep.groups.clear()
            return self._answer(ep, sim.cls.cluster_id, hdr, ok, group=group)
        else:
            return self._answer(
                ep, sim.cls.cluster_id, hdr, foundation.Status.UNSUP_CLUSTER_COMMAND, group=group
            )
        return self._answer(ep, sim.cls.cluster_id, hdr, ok, group=group, command_id=rsp.id, payload=payload)
