"""`ZWaveRadio`: our Serial API host stack behind the one radio interface, as a facade over its parts.

Rules of this file: this is the only Z-Wave module that knows canonical commands; it wires the parts
and routes between them, and holds no device state (the hub does: `ctx.state_of`). The parts, one
job each:

    nodes.NodeRegistry     node records, DeviceAdded/Removed/Online, the node file
    link.NodeLink          send / query / supervised delivery; the Security seam (encapsulation.py)
    correlator.Correlator  which report answers which Get, which Supervision Report which session
    reception.Reception    unsolicited frames -> correlator, wake-ups, registry (the hot path)
    wakeup.WakeUpQueues    commands to sleeping nodes wait for the wake-up; No More Information after
    commands.Commands      canonical command -> CC commands -> (supervised) delivery
    verify.Verifier        confirm a Set: Supervision, else the node's own report, else a late Get
    gate + scheduler       who goes next on the Serial API link (driver.py asks; priorities)
    setup.NodeSetup        protocol info, NIF, interview, first values, announce
    inclusion.Inclusion    AddNode -> security bootstrap -> set-up; RemoveNode; RemoveFailedNode
    recovery.Recovery      stick vanished or restarted -> reconnect with hub_core.backoff.Backoff

Background work is in one `hub_core.tasks.TaskGroup`.
"""

from __future__ import annotations

import asyncio
import logging

from hub_core.backoff import Backoff
from hub_core.errors import RadioUnavailable
from hub_core.model import Command, DeviceId, Protocol
from hub_core.tasks import TaskGroup
from radios.base import Radio, RadioContext, RadioState
from radios.zwave.commands import Commands
from radios.zwave.controller import Controller
from radios.zwave.encapsulation import Encapsulation, Plain, SecurityBootstrap
from radios.zwave.inclusion import Inclusion
from radios.zwave.link import QUERY_TIMEOUT, NodeLink
from radios.zwave.node import NodeRecord
from radios.zwave.nodes import NodeRegistry, parse_device_id
from radios.zwave.reception import Reception
from radios.zwave.recovery import Recovery
from radios.zwave.scheduler import Priority
from radios.zwave.setup import NodeSetup
from radios.zwave.transaction import Timeouts
from radios.zwave.verify import VERIFY_DELAY, Verifier
from radios.zwave.wakeup import WakeUpQueues

log = logging.getLogger(__name__)

__all__ = ["QUERY_TIMEOUT", "ZWaveRadio", "parse_device_id"]


class ZWaveRadio(Radio):
    """Z-Wave through our own Serial API host stack on any pyserial URL."""

    protocol = Protocol.ZWAVE

    def __init__(
        self,
        ctx: RadioContext,
        port: str,
        *,
        timeouts: Timeouts | None = None,
        query_timeout: float = QUERY_TIMEOUT,
        reconnect: Backoff | None = None,
        soft_reset_wait: float = 1.5,
        encapsulation: Encapsulation | None = None,
        bootstrap: SecurityBootstrap | None = None,
        verify_delay: float = VERIFY_DELAY,
    ) -> None:
        super().__init__(ctx)
        self.port = port
        self.timeouts = timeouts
        self.soft_reset_wait = soft_reset_wait
        self.controller: Controller | None = None
        self.tasks = TaskGroup("zwave")
        self.registry = NodeRegistry(ctx)
        self.link = NodeLink(
            self._live_controller, self.registry, encapsulation or Plain(), query_timeout=query_timeout
        )
        self.wakeups = WakeUpQueues(
            self.tasks,
            lambda node, command: self.link.send(node, command, 0, Priority.WAKE_UP),
            lambda node: node in self.setup.running,
        )
        self.registry.on_forget.append(self.wakeups.forget)
        self.setup = NodeSetup(
            self._live_controller, self.registry, self.link, self.wakeups, self._is_running
        )
        self.verifier = Verifier(self.link, self.tasks, verify_delay)
        self.commands = Commands(
            self.registry,
            self.link,
            self.wakeups,
            self.verifier,
            state_of=ctx.state_of,
            check_running=self._live_controller,
            wait_running=self.wait_running,
        )
        self.inclusion = Inclusion(
            self._live_controller, self.registry, self.setup, bootstrap or Plain(), self.tasks
        )
        self.recovery = Recovery(
            TaskGroup("zwave recovery", limit=1),
            connect=self._connect,
            disconnect=self._disconnect,
            recovering=self._set_recovering,
            recovered=self._set_running,
            backoff=reconnect,
        )
        self.reception = Reception(
            self.registry, self.link, self.wakeups, self.setup, self.recovery, self.tasks, self._is_running
        )
        self._running = asyncio.Event()

    @property
    def nodes(self) -> dict[int, NodeRecord]:
        """The node records of the current network, by node id."""
        return self.registry.records

    @property
    def interviews(self) -> int:
        """How many interviews ran since the radio was created."""
        return self.setup.interviews

    @property
    def reconnects(self) -> int:
        """How many times the radio reconnected after losing the stick."""
        return self.recovery.reconnects

    def counters(self) -> dict[str, int]:
        """Reconnects, interviews, and the Sets' confirmations: verify Gets sent and saved."""
        return {
            "reconnects": self.reconnects,
            "interviews": self.interviews,
            "verify_gets_sent": self.verifier.gets_sent,
            "verify_gets_saved": self.verifier.gets_saved,
        }

    # --- life -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the stick, run the start-up sequence, announce known nodes, interview new ones."""
        self.recovery.stopping = False
        self.state = RadioState.STARTING
        try:
            await self._connect()
        except BaseException:
            self.state = RadioState.STOPPED
            raise
        self._set_running()

    async def stop(self) -> None:
        """Close the stick and cancel everything started; safe to call twice."""
        self.recovery.stopping = True
        self._running.clear()
        await self.inclusion.close()
        await self.recovery.close()
        await self.tasks.close()
        await self._disconnect()
        self.link.correlator.fail_all(RadioUnavailable("the Z-Wave radio stopped"))
        self.state = RadioState.STOPPED

    def _set_running(self) -> None:
        self.state = RadioState.RUNNING
        self._running.set()

    def _set_recovering(self) -> None:
        self.state = RadioState.RECOVERING
        self._running.clear()

    def _is_running(self) -> bool:
        return self.state is RadioState.RUNNING

    async def _connect(self) -> None:
        controller = Controller(
            self.port,
            on_message=self.reception,
            on_lost=self._on_lost,
            timeouts=self.timeouts,
            soft_reset_wait=self.soft_reset_wait,
        )
        try:
            info = await controller.start()
        except BaseException:
            await controller.close()
            raise
        self.controller = controller
        found = await self.registry.reconcile(info.home_id, [n for n in info.node_ids if n != info.node_id])
        for record in found.refresh:
            self.tasks.spawn(self.setup.refresh(record), f"refresh node {record.node_id}")
        for record in found.setup:
            # Protocol info first: a sleeping node's interview then waits for its wake-up.
            self.tasks.spawn(self.setup.setup(record), f"interview node {record.node_id}")

    async def _disconnect(self) -> None:
        if self.controller is not None:
            await self.controller.close()

    def _on_lost(self, exc: Exception) -> None:
        self.recovery.begin(f"lost the controller ({exc})")

    def _live_controller(self) -> Controller:
        controller = self.controller
        if controller is None or self.state is not RadioState.RUNNING:
            raise RadioUnavailable(f"the Z-Wave radio is {self.state.value}")
        return controller

    async def wait_running(self, timeout: float) -> None:
        """Return once the radio is RUNNING (e.g. after a recovery); TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            await self._running.wait()

    async def settle(self) -> None:
        """Wait until background work (interviews, refreshes, wake-up handling) is done (for tests)."""
        await self.tasks.settle()

    # --- commands and network modes ---------------------------------------------------------------

    async def execute(self, command: Command) -> None:
        """Send a canonical command; return when the node confirmed it (SendData callback, Supervision)."""
        await self.commands.execute(command)

    async def set_inclusion(self, seconds: float) -> None:
        """Open inclusion for `seconds` (nodes join one at a time, each interviewed); 0 closes it."""
        await self.inclusion.set_inclusion(seconds)

    async def remove_device(self, device: DeviceId) -> None:
        """Remove a failed node at once; otherwise open exclusion for the device's button press."""
        await self.inclusion.remove_device(device)
