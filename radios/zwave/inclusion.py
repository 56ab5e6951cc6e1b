"""Network modes: inclusion (AddNode), exclusion (RemoveNode) and removal of failed nodes.

Rules of this file: one network mode at a time; opening or closing one ends the other. A node that
joins goes through three steps, in this order, as one task of the radio's group that outlives the
inclusion window: AddNode completes -> `SecurityBootstrap.bootstrap` (S2/S0 key exchange, the seam
in `encapsulation.py`; a failure leaves the node included without security, as SDS13783 allows) ->
the interview (`NodeSetup`). Inclusion waits for each joined node's set-up before it lets the next
one in, so interviews never overlap with AddNode on the one Serial API link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hub_core.errors import DeliveryFailed, HubError, InvalidCommand, RadioUnavailable
from hub_core.model import DeviceId
from hub_core.tasks import TaskGroup
from radios.zwave.controller import Controller, Included
from radios.zwave.encapsulation import SecurityBootstrap
from radios.zwave.node import NodeRecord
from radios.zwave.nodes import NodeRegistry, parse_device_id
from radios.zwave.setup import NodeSetup

log = logging.getLogger(__name__)

#: Exclusion started by remove_device stays open this long for the device's button press.
EXCLUSION_SECONDS = 60.0


class Inclusion:
    """Opens and closes inclusion and exclusion; removes failed nodes."""

    def __init__(
        self,
        controller: Callable[[], Controller],
        registry: NodeRegistry,
        setup: NodeSetup,
        bootstrap: SecurityBootstrap,
        tasks: TaskGroup,
    ) -> None:
        self._controller = controller
        self._registry = registry
        self._setup = setup
        self._bootstrap = bootstrap
        self._tasks = tasks
        # The inclusion window is not background work to settle: it lasts as long as it was opened.
        self._window = TaskGroup("zwave inclusion window", limit=1)
        self.inclusion: asyncio.Task[None] | None = None
        self.exclusion: asyncio.Task[None] | None = None

    async def set_inclusion(self, seconds: float) -> None:
        """Open inclusion for `seconds` (nodes join one at a time, each set up); 0 closes it."""
        self._controller()
        await self.end_network_modes()
        if seconds > 0:
            deadline = asyncio.get_running_loop().time() + seconds
            self.inclusion = self._window.spawn(self._include_until(deadline), "inclusion")

    async def _include_until(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := deadline - loop.time()) > 0:
            try:
                joined: Included | None = await self._controller().add_node(remaining)
            except (RadioUnavailable, DeliveryFailed) as exc:
                log.warning("zwave: inclusion stopped: %s", exc)
                return
            if joined is None:
                return
            record = self._registry.add(joined.node_id)
            ccs = joined.info.command_classes if joined.info is not None else None
            # The set-up outlives a closed inclusion window: it is the group's, only shielded here.
            join = self._tasks.spawn(self._join(record, ccs), f"interview node {joined.node_id}")
            await asyncio.shield(join)

    async def _join(self, record: NodeRecord, ccs: tuple[int, ...] | None) -> None:
        try:
            await self._bootstrap.bootstrap(record.node_id, ccs or ())
        except HubError as exc:
            log.warning("zwave: node %d joined without security: %s", record.node_id, exc)
        await self._setup.setup(record, ccs, awake=True)

    async def remove_device(self, device: DeviceId) -> None:
        """Remove a failed node at once; otherwise open exclusion for the device's button press."""
        try:
            node_id, _ = parse_device_id(device)
        except ValueError as exc:
            raise InvalidCommand(str(exc), device=device) from None
        try:
            controller = self._controller()
            failed = self._registry.get(node_id) is not None and await controller.is_failed(node_id)
            removed = failed and await controller.remove_failed(node_id)
        except RadioUnavailable as exc:
            if exc.device is not None:
                raise
            # E.g. the stick did not answer IsFailedNode: say which device could not be removed.
            raise RadioUnavailable(f"cannot remove {device}: {exc}", device=device) from exc
        if removed:
            self._registry.forget(node_id)
            await self._registry.persist()
            return
        if self.exclusion is not None and not self.exclusion.done():
            return  # already waiting for a button press; whichever node leaves is reported
        await self.end_network_modes()
        self.exclusion = self._tasks.spawn(self._exclude(EXCLUSION_SECONDS), "exclusion")

    async def end_network_modes(self) -> None:
        """Cancel a running inclusion or exclusion and wait for it to end."""
        tasks = [t for t in (self.inclusion, self.exclusion) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.inclusion = self.exclusion = None

    async def close(self) -> None:
        """End the network modes (the radio stops)."""
        await self.end_network_modes()
        await self._window.close()

    async def _exclude(self, seconds: float) -> None:
        try:
            left = await self._controller().remove_node(seconds)
        except RadioUnavailable as exc:
            log.warning("zwave: exclusion stopped: %s", exc)
            return
        if left is not None:
            log.info("zwave: node %d left the network", left)
            self._registry.forget(left)
            await self._registry.persist()
