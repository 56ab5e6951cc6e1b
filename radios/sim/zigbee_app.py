"""A zigpy `ControllerApplication` whose "stick" is a `SimulatedAir`; zigpy does everything above it.

This plays the part a radio library (zigpy-znp, bellows) plays: it opens the stick, keeps the network
settings in the stick's memory, hands zigpy every received packet and reports a lost connection.
The air is found by the configured device path (`sim://...`).
"""

from __future__ import annotations

import logging
from typing import Any

import zigpy.application
import zigpy.config as conf
import zigpy.device
import zigpy.endpoint
import zigpy.exceptions
import zigpy.profiles.zha as zha
import zigpy.state
import zigpy.types as _t
import zigpy.zdo.types as _zdo_t

from radios.sim.zigbee_air import SimulatedAir, StickUnavailable

log = logging.getLogger(__name__)

# zigpy's constructors are partly unannotated; Any-typed aliases keep mypy --strict on our code.
t: Any = _t
zdo_t: Any = _zdo_t


class SimControllerApplication(zigpy.application.ControllerApplication):
    """The coordinator side of the simulated air."""

    DISPLAY_NAME = "hub-agent simulated radio"
    _watchdog_period = 3600

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.air = SimulatedAir.for_path(self._config[conf.CONF_DEVICE][conf.CONF_DEVICE_PATH])
        self._connected = False

    async def connect(self) -> None:
        """Open the stick; raise StickUnavailable (a ConnectionError) when it is unplugged."""
        self.air.attach(self)
        self._connected = True

    async def disconnect(self) -> None:
        """Close the stick."""
        self._connected = False
        self.air.detach(self)

    async def _watchdog_feed(self) -> None:
        if not self._connected or self.air.app is not self:
            raise StickUnavailable("the simulated stick does not answer")

    async def start_network(self) -> None:
        """Bring the network up with the settings in the stick and register the coordinator."""
        await self.load_network_info(load_devices=False)
        await self.register_endpoints()
        ieee = self.state.node_info.ieee
        coordinator: Any = self.devices.get(ieee)
        if coordinator is None:
            coordinator = self.add_device(ieee, self.state.node_info.nwk)
        coordinator.node_desc = zdo_t.NodeDescriptor(
            logical_type=zdo_t.LogicalType.Coordinator,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=zdo_t.NodeDescriptor.MACCapabilityFlags.AlternatePanCoordinator
            | zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
            | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
            | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle,
            manufacturer_code=0x0000,
            maximum_buffer_size=89,
            maximum_incoming_transfer_size=128,
            server_mask=0x2B41,
            maximum_outgoing_transfer_size=128,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )
        if 1 not in coordinator.endpoints:
            ep = coordinator.add_endpoint(1)
            ep.status = zigpy.endpoint.Status.ZDO_INIT
            ep.profile_id = zha.PROFILE_ID
            ep.device_type = zha.DeviceType.CONFIGURATION_TOOL
        coordinator.model = "Simulated coordinator"
        coordinator.manufacturer = "hub-agent"

    async def force_remove(self, dev: zigpy.device.Device) -> None:
        """Drop a device from the simulated network."""
        sim = self.air.devices.get(dev.ieee)
        if sim is not None:
            self.air.leave(sim)

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        """The simulated stick accepts any endpoint."""

    async def permit_ncp(self, time_s: int = 60) -> None:
        """Open or close joining on the coordinator itself."""
        self.air.permit(time_s)

    async def permit_with_link_key(self, node: Any, link_key: Any, time_s: int = 60) -> None:
        """Install-code joining is not simulated; plain permit instead."""
        self.air.permit(time_s)

    async def write_network_info(
        self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo
    ) -> None:
        """Write network settings into the stick's memory."""
        if node_info.ieee == t.EUI64.UNKNOWN:
            node_info = node_info.replace(ieee=self.air.stick_ieee)
        # Stored and read back as a real stick would: typed values, not whatever the caller passed.
        self.air.nvram = (
            network_info.replace(
                pan_id=t.PanId(network_info.pan_id),
                nwk_manager_id=t.NWK(network_info.nwk_manager_id),
                nwk_update_id=t.uint8_t(network_info.nwk_update_id),
                channel=t.uint8_t(network_info.channel),
                security_level=t.uint8_t(network_info.security_level),
            ),
            node_info.replace(nwk=t.NWK(node_info.nwk)),
        )

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        """Read network settings from the stick's memory; NetworkNotFormed on a blank stick."""
        if self.air.nvram is None:
            raise zigpy.exceptions.NetworkNotFormed("the simulated stick has no network")
        network_info, node_info = self.air.nvram
        self.state.network_info = network_info.replace(source="hub-agent-sim")
        self.state.node_info = node_info.replace(model="SIM-COORD", manufacturer="hub-agent", version="1.0")

    async def reset_network_info(self) -> None:
        """Erase the network settings from the stick."""
        self.air.nvram = None

    async def send_packet(self, packet: Any) -> None:
        """Put a packet on the air; DeliveryError when the stick is gone or nobody acknowledged it."""
        if not self._connected:
            raise zigpy.exceptions.DeliveryError("the simulated stick is not connected")
        # The priority the radio library queues this packet at: the packet's own, else the one
        # set with zigpy's request_priority() around the request (zigpy's device passes None).
        priority = packet.priority if packet.priority is not None else self._packet_priority_var.get()
        self.air.transmit(packet, priority=int(priority))

    def radio_received(self, packet: Any) -> None:
        """A packet arrived from the air; like a radio library's callback, never let zigpy's error escape."""
        try:
            self.packet_received(packet)
        except Exception:  # a malformed frame must not take the radio down
            log.warning("zigpy could not handle a packet from %s", packet.src, exc_info=True)
