"""Setting a node up: protocol info, node information, interview, first values, announce, persist.

Rules of this file: one set-up per node at a time (`running`), each a task of the radio's group.
A sleeping node's set-up waits for its wake-up (it is started again by `WakeUpQueues`' owner then);
a node that does not answer is retried at its next wake-up or the next start, never in a loop here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub_core.errors import DeliveryFailed, RadioUnavailable
from radios.zwave.cc import state_queries
from radios.zwave.controller import Controller
from radios.zwave.interview import Interview
from radios.zwave.link import NodeLink
from radios.zwave.node import NodeRecord
from radios.zwave.nodes import NodeRegistry
from radios.zwave.wakeup import WakeUpQueues

log = logging.getLogger(__name__)


class NodeSetup:
    """Interviews and value refreshes of nodes."""

    def __init__(
        self,
        controller: Callable[[], Controller],
        registry: NodeRegistry,
        link: NodeLink,
        wakeups: WakeUpQueues,
        running: Callable[[], bool],
    ) -> None:
        self._controller = controller
        self._registry = registry
        self._link = link
        self._wakeups = wakeups
        self._radio_running = running
        self.running: set[int] = set()
        self.interviews = 0

    async def setup(
        self, record: NodeRecord, info_ccs: tuple[int, ...] | None = None, *, awake: bool = False
    ) -> None:
        """Set `record` up; `awake`: it can hear us now (just included or just woke up)."""
        node_id = record.node_id
        self.running.add(node_id)
        try:
            awake = await self._setup(record, info_ccs, awake)
        except (RadioUnavailable, DeliveryFailed) as exc:
            log.warning(
                "zwave: setting up node %d failed: %s (retried on its next wake-up or restart)", node_id, exc
            )
        finally:
            self.running.discard(node_id)
            if record.sleeping and awake and self._wakeups.idle(node_id) and self._radio_running():
                await self._wakeups.back_to_sleep(node_id)

    async def _setup(self, record: NodeRecord, info_ccs: tuple[int, ...] | None, awake: bool) -> bool:
        """The set-up proper; returns whether the node was awake for it."""
        node_id = record.node_id
        controller = self._controller()
        proto = await controller.node_protocol_info(node_id)
        record.listening = proto.listening
        record.frequent_listening = proto.frequent_listening
        record.generic, record.specific = proto.generic, proto.specific
        # A wake-up that arrived while we asked for protocol info counts too.
        awake = awake or self._wakeups.is_awake(node_id)
        if record.sleeping and not awake:
            log.info("zwave: node %d sleeps; its interview waits for its wake-up", node_id)
            return False
        if record.sleeping:
            self._wakeups.mark_awake(node_id)
        if info_ccs is None and not record.caps.ccs:
            info = await controller.request_node_info(node_id)
            info_ccs = info.command_classes if info is not None else None
        if info_ccs is None and not record.caps.ccs:
            log.warning("zwave: node %d sent no node information; interview postponed", node_id)
            return awake
        if info_ccs is not None:
            record.caps = record.caps.with_ccs(info_ccs)
        self.interviews += 1
        await Interview(record, self._link, controller.info.node_id if controller.info else 1).run()
        if record.interviewed:
            await self.refresh(record)
            self._registry.announce(record)
            await self._registry.persist()
        return awake

    async def refresh(self, record: NodeRecord) -> None:
        """Ask every device of the node for its current values (the reports become state)."""
        try:
            for endpoint in (0, *sorted(record.caps.endpoints)):
                for get in state_queries(record.caps.endpoint(endpoint)):
                    await self._link.query(record.node_id, get, endpoint)
        except RadioUnavailable as exc:
            log.info("zwave: refresh of node %d stopped: %s", record.node_id, exc)
