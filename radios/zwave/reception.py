"""Unsolicited frames from the stick, routed to the part whose job they are.

Rules of this file: runs synchronously in the driver's receive path (the hot path: no awaits, no
disk). A node's command goes through the link (Security seam, parsing) and then, in this order, to
a Supervision reply if the node asked for one, the reply correlator (a report some Get waits for),
the wake-up queues (Wake Up Notification) and finally the registry, which emits the canonical events.
A NIF from a sleeping node means it woke up; SerialApiStarted while running means the stick reset.
A SmartStart inclusion request goes to `on_smart_start` (radios/zwave/security/smartstart.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub_core.tasks import TaskGroup
from radios.zwave.cc import supervision_reply
from radios.zwave.cc.management import WakeUpNotification
from radios.zwave.errors import ControllerReset
from radios.zwave.link import NodeLink
from radios.zwave.messages import (
    ApplicationCommandHandler,
    ApplicationUpdate,
    Message,
    SerialApiStarted,
    SmartStartRequest,
    UnknownMessage,
    UpdateState,
)
from radios.zwave.node import NodeRecord
from radios.zwave.nodes import NodeRegistry
from radios.zwave.recovery import Recovery
from radios.zwave.setup import NodeSetup
from radios.zwave.wakeup import WakeUpQueues

log = logging.getLogger(__name__)


class Reception:
    """Routes each unsolicited message (`__call__` is the controller's `on_message`)."""

    def __init__(
        self,
        registry: NodeRegistry,
        link: NodeLink,
        wakeups: WakeUpQueues,
        setup: NodeSetup,
        recovery: Recovery,
        tasks: TaskGroup,
        running: Callable[[], bool],
    ) -> None:
        self._registry = registry
        self._link = link
        self._wakeups = wakeups
        self._setup = setup
        self._recovery = recovery
        self._tasks = tasks
        self._running = running
        #: Where a SmartStart node's inclusion request goes (the SmartStart layer, if any).
        self.on_smart_start: Callable[[SmartStartRequest], None] | None = None

    def __call__(self, message: Message | UnknownMessage) -> None:
        if isinstance(message, ApplicationCommandHandler):
            self._command_received(message)
        elif isinstance(message, ApplicationUpdate):
            record = self._registry.get(message.node_id)
            if message.state == UpdateState.NODE_INFO_RECEIVED and record is not None:
                # A sleeping node sends its NIF when it wakes up (and when its button is pressed).
                self._registry.heard(record.node_id)
                if record.sleeping:
                    self.woke_up(record)
        elif isinstance(message, SmartStartRequest):
            if self.on_smart_start is not None:
                self.on_smart_start(message)
        elif isinstance(message, SerialApiStarted) and self._running() and not self._recovery.stopping:
            self._link.correlator.fail_all(ControllerReset("the Z-Wave controller restarted"))
            self._recovery.begin("the controller restarted by itself")

    def _command_received(self, message: ApplicationCommandHandler) -> None:
        record = self._registry.get(message.node_id)
        if record is None:
            log.info("zwave: ignoring a command from unknown node %d", message.node_id)
            return
        self._registry.heard(record.node_id)
        envelope = self._link.receive(record.node_id, message.data)
        if envelope is None:
            return
        reply = supervision_reply(envelope)
        if reply is not None:
            # The node wants to know we processed its report (Supervision): always SUCCESS.
            self._tasks.spawn(
                self._link.send_quietly(record.node_id, reply), f"supervision reply node {record.node_id}"
            )
        if self._link.correlator.offer(record.node_id, envelope.endpoint, envelope.command):
            return
        if isinstance(envelope.command, WakeUpNotification):
            self.woke_up(record)
            return
        self._registry.report(record, envelope.endpoint, envelope.command)

    def woke_up(self, record: NodeRecord) -> None:
        """The node is awake: release its queue, or set it up if it never was."""
        self._wakeups.woke_up(record.node_id, release=record.interviewed)
        if not record.interviewed and record.node_id not in self._setup.running:
            self._tasks.spawn(self._setup.setup(record, awake=True), f"interview node {record.node_id}")
