"""`[zwave] port = "sim"`: the real Z-Wave stack (`ZWaveRadio`) over the built-in pty controller emulator.

Everything above the pty is production code: framing, transactions, interview, inclusion. The
emulator starts with the nodes the hub already knows (so a restart keeps the household), and
opening inclusion lets the default simulated household join, one node per inclusion.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace

from hub_core.backoff import Backoff
from hub_core.model import Device, DeviceId, Protocol
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import SENSORS, SimNode, household
from radios.zwave.node import NodeRecord
from radios.zwave.radio import QUERY_TIMEOUT, ZWaveRadio, parse_device_id
from radios.zwave.transaction import Timeouts

log = logging.getLogger(__name__)


class SimZWaveRadio(ZWaveRadio):
    """ZWaveRadio whose serial port is an emulated stick in this process."""

    def __init__(
        self,
        ctx: RadioContext,
        *,
        timeouts: Timeouts | None = None,
        query_timeout: float = QUERY_TIMEOUT,
        reconnect: Backoff | None = None,
    ) -> None:
        self.emulator = ZWaveEmulator()
        super().__init__(
            ctx,
            self.emulator.port_path,
            timeouts=timeouts,
            query_timeout=query_timeout,
            reconnect=reconnect,
        )
        self.registry.describe = self._describe
        self._household_offered = False
        self._restore_network()

    def _restore_network(self) -> None:
        """Nodes the hub remembers are still paired with the simulated stick."""
        defaults = {node.node_id: node for node in household()}
        for device in self.ctx.known_devices.values():
            if device.protocol is not Protocol.ZWAVE:
                continue
            try:
                node_id, endpoint = parse_device_id(device.id)
            except ValueError:
                continue
            if endpoint or node_id not in defaults or node_id in self.emulator.nodes:
                continue
            node = defaults[node_id]
            for attribute, value in device.state.items():
                if attribute in node.state:
                    node.state[attribute] = value
            node.awake = node.listening
            self.emulator.add_node(node)

    async def start(self) -> None:
        """Start the emulated stick, then the real stack on its port."""
        if not self.emulator.plugged:
            await self.emulator.start()
        try:
            await super().start()
        except BaseException:
            await self.emulator.stop()
            raise

    async def stop(self) -> None:
        """Stop the stack, then the emulated stick."""
        await super().stop()
        await self.emulator.stop()

    async def set_inclusion(self, seconds: float) -> None:
        """The first inclusion offers the default household to join."""
        if seconds > 0 and not self._household_offered:
            self._household_offered = True
            self.emulator.include_default_household()
        await super().set_inclusion(seconds)

    async def remove_device(self, device: DeviceId) -> None:
        """Exclusion needs someone to press the device's button: the simulation does that."""
        node_id, _ = parse_device_id(device)
        if node_id in self.emulator.nodes and node_id not in self.emulator.leaving:
            self.emulator.leaving.append(node_id)
        await super().remove_device(device)

    def _describe(self, record: NodeRecord, endpoint: int) -> Device:
        """Simulated devices carry their household names (real ones get the hub's or a generic one)."""
        device = self.registry.describe_device(record, endpoint)
        sim = self.emulator.nodes.get(record.node_id)
        if sim is None or device.id in self.ctx.known_devices:
            return device
        name = sim.endpoints[endpoint].name if endpoint in sim.endpoints else sim.name
        return replace(device, name=name)

    def simulate_activity(self, rng: random.Random) -> None:
        """One simulated node does something plausible; its report travels through the real stack."""
        nodes = [n for n in self.emulator.nodes.values() if n.reachable]
        if nodes:
            act(rng.choice(nodes), rng)


def act(node: SimNode, rng: random.Random) -> None:
    """A plausible change on a simulated node: motion, a door, a temperature drift, a button."""
    state = node.state
    if "motion" in state:
        node.report("motion", "inactive" if state["motion"] == "active" else "active")
    elif "contact" in state:
        node.report("contact", "closed" if state["contact"] == "open" else "open")
    elif "water" in state and rng.random() < 0.2:
        node.report("water", "wet" if state["water"] == "dry" else "dry")
    elif any(name in state for name, _, _ in SENSORS.values()) and "temperature" in state:
        node.report("temperature", round(float(state["temperature"]) + rng.uniform(-0.3, 0.3), 1))
    elif node.model == "Sim remote":
        node.press(rng.choice((1, 2)), rng.choice(("pressed", "held", "double")))
    elif "battery" in state and rng.random() < 0.1:
        node.report("battery", max(0, int(state["battery"]) - 1))
