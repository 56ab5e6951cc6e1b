"""Talking to one node over the controller: send, send and await the report, send supervised.

Rules of this file: every outgoing CC goes through `_send_cc` (Multi Channel and Supervision wrapping,
then the `Encapsulation` seam, then SendData at its `Priority`: user commands ahead of replies,
wake-up queues, verification and interview traffic, see scheduler.py) and every received payload
through `receive` (the seam, then parsing and unwrapping). A node that does not acknowledge goes
offline in the registry; one that does is heard. A stick that is gone raises `RadioUnavailable`;
the node's silence `DeliveryFailed`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

from hub_core.errors import DeliveryFailed, DeliveryTimeout, ProtocolError, RadioUnavailable
from radios.zwave.cc import CCCommand, Envelope, SupervisionStatus, encapsulate, parse_cc, unwrap
from radios.zwave.controller import Controller, transmit_ok
from radios.zwave.correlator import Correlator
from radios.zwave.encapsulation import Encapsulation
from radios.zwave.errors import NodeUnreachable
from radios.zwave.nodes import NodeRegistry
from radios.zwave.scheduler import Priority

log = logging.getLogger(__name__)

#: How long to wait for a report after a Get during interviews and refreshes.
QUERY_TIMEOUT = 3.0
#: How long to wait for a Supervision Report after a supervised command.
SUPERVISION_TIMEOUT = 5.0


class NodeLink:
    """Send CC commands to nodes and correlate their answers."""

    def __init__(
        self,
        controller: Callable[[], Controller],
        registry: NodeRegistry,
        encapsulation: Encapsulation,
        *,
        query_timeout: float = QUERY_TIMEOUT,
    ) -> None:
        self._controller = controller
        self.registry = registry
        self.encapsulation = encapsulation
        self.correlator = Correlator()
        self.query_timeout = query_timeout

    async def transmit_raw(
        self,
        node_id: int,
        payload: bytes,
        device: str | None = None,
        *,
        priority: Priority = Priority.REPLY,
        key: Hashable | None = None,
    ) -> None:
        """SendData `payload` as is (no encapsulation) in its turn; NodeUnreachable (and offline) if
        the node did not acknowledge."""
        callback = await self._controller().send_data(node_id, payload, priority=priority, key=key)
        if not transmit_ok(callback):
            self.registry.silent(node_id)
            raise NodeUnreachable(
                f"node {node_id} did not acknowledge ({callback.status.name})",
                node_id=node_id,
                status=callback.status,
                device=device,
            )
        self.registry.heard(node_id)

    async def _send_cc(
        self,
        node_id: int,
        endpoint: int,
        command: CCCommand,
        priority: Priority,
        session: int = 0,
        device: str | None = None,
        key: Hashable | None = None,
    ) -> None:
        wrapped = encapsulate(command, endpoint, bool(session), session).to_bytes()
        payload = await self.encapsulation.encapsulate(node_id, wrapped)
        await self.transmit_raw(node_id, payload, device, priority=priority, key=key)

    def receive(self, node_id: int, payload: bytes) -> Envelope | None:
        """A received payload, decapsulated and unwrapped; None if consumed by the seam or malformed."""
        plain = self.encapsulation.decapsulate(node_id, payload)
        if plain is None:
            return None
        try:
            return unwrap(parse_cc(plain))
        except ProtocolError as exc:
            log.warning("zwave: node %d sent malformed %s: %s", node_id, plain.hex(), exc)
            return None

    async def send(
        self, node_id: int, command: CCCommand, endpoint: int = 0, priority: Priority = Priority.POLL
    ) -> bool:
        """Send a command (interview set-up by default); True if the node acknowledged it."""
        try:
            await self._send_cc(node_id, endpoint, command, priority)
        except DeliveryFailed:
            return False
        return True

    async def send_quietly(self, node_id: int, command: CCCommand, endpoint: int = 0) -> None:
        """Send a reply the node waits for (Supervision Report); only log a failure."""
        try:
            await self._send_cc(node_id, endpoint, command, Priority.REPLY)
        except (DeliveryFailed, RadioUnavailable) as exc:
            log.info("zwave: could not send to node %d: %s", node_id, exc)

    async def query(
        self, node_id: int, request: CCCommand, endpoint: int = 0, priority: Priority = Priority.POLL
    ) -> CCCommand | None:
        """Send a Get (interview, refresh, verification) and return the report that answers it; None
        if it did not come in time. Duplicate Gets waiting for the link merge into one."""
        future = self.correlator.expect_report(node_id, endpoint, request)
        try:
            key = (node_id, endpoint, request.to_bytes())
            await self._send_cc(node_id, endpoint, request, priority, key=key)
            async with asyncio.timeout(self.query_timeout):
                return await future
        except (TimeoutError, DeliveryFailed):
            return None  # the node did not answer; a RadioUnavailable (the stick is gone) propagates
        finally:
            self.correlator.forget(future)

    async def deliver(
        self, node_id: int, endpoint: int, command: CCCommand, *, supervised: bool, device: str
    ) -> None:
        """Send a command; if `supervised`, return only once the node reported success."""
        if not supervised:
            # A newer command of the same kind to the same end point replaces this one while it waits.
            key = (node_id, endpoint, command.cc, command.command)
            await self._send_cc(node_id, endpoint, command, Priority.USER, device=device, key=key)
            return
        # Not coalesced: each supervised command waits for the report of its own session.
        session = self.correlator.new_session()
        future = self.correlator.expect_supervision(session)
        try:
            await self._send_cc(node_id, endpoint, command, Priority.USER, session, device)
            async with asyncio.timeout(SUPERVISION_TIMEOUT):
                report = await future
        except TimeoutError:
            raise DeliveryTimeout(
                f"{device} did not report the outcome of {command!r}", device=device
            ) from None
        finally:
            self.correlator.forget(future)
        if report.status == SupervisionStatus.NO_SUPPORT:
            raise DeliveryFailed(f"{device} does not support {type(command).__name__}", device=device)
        if not report.succeeded:
            raise DeliveryFailed(f"{device} failed to carry out {type(command).__name__}", device=device)
