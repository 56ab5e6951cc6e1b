"""Coalescing commands issued together into Zigbee group casts (one frame for a whole group).

Commands a scene or a rule's parallel actions issue reach the adapter in the same event-loop turn.
They wait here until the next turn; then every group whose members all got the same command gets one
group cast, and the rest a unicast each. A group cast is not acknowledged by its members
(ZCL 2.5.12.2): the coordinator accepting it is the delivery confirmation we can have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import zigpy.application
import zigpy.types as zt

from hub_core.errors import CommandError, RadioUnavailable
from hub_core.model import Command
from hub_core.tasks import TaskGroup
from radios.zigbee import mapping
from radios.zigbee.configure import shape_of
from radios.zigbee.delivery import as_command_error, command_id, send_requests, zigbee_device

log = logging.getLogger(__name__)

Guard = Callable[[Coroutine[Any, Any, Any], "str | None"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Pending:
    """A groupable command waiting for the end of this loop turn to be coalesced."""

    command: Command
    ieee: zt.EUI64
    future: asyncio.Future[None]


class GroupCaster:
    """Queues groupable commands for one loop turn and sends them as group casts where possible."""

    def __init__(
        self,
        app: Callable[[], zigpy.application.ControllerApplication | None],
        guard: Guard,
        tasks: TaskGroup,
    ) -> None:
        self._app = app
        self._guard = guard
        self._tasks = tasks
        self._pending: list[_Pending] = []
        self._flush_scheduled = False

    def group_ids(self, ieee: zt.EUI64) -> list[int]:
        """The groups `ieee` is a member of."""
        app = self._app()
        if app is None:
            return []
        return [gid for gid, group in app.groups.items() if any(m[0] == ieee for m in group.members)]

    async def send(self, command: Command, ieee: zt.EUI64) -> None:
        """Queue `command` for coalescing; return once it is confirmed, else raise its CommandError."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(command, ieee, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        await future

    def fail_all(self, message: str) -> None:
        """Fail every queued command with RadioUnavailable (the stick went away)."""
        for pending in self._pending:
            _settle(pending.future, RadioUnavailable(message, device=pending.command.device))
        self._pending.clear()

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        by_command: dict[tuple[str, tuple[tuple[str, Any], ...]], list[_Pending]] = {}
        for item in pending:
            key = (item.command.name, tuple(sorted(item.command.args.items())))
            by_command.setdefault(key, []).append(item)
        for items in by_command.values():
            self._tasks.spawn(self._send_batch(items), "group send")

    async def _send_batch(self, items: list[_Pending]) -> None:
        """One group cast per group fully covered by these devices; unicast for the rest."""
        app = self._app()
        remaining = {item.ieee: item for item in items}
        sends: list[Coroutine[Any, Any, None]] = []
        if app is not None:
            # Largest groups first, so one cast covers as many of the commanded devices as possible.
            for gid, group in sorted(app.groups.items(), key=lambda g: -len(g[1].members)):
                members = {m[0] for m in group.members}
                if len(members) >= 2 and members <= set(remaining):
                    sends.append(self._send_group(app, gid, [remaining.pop(ieee) for ieee in members]))
        sends.extend(self._send_single(item) for item in remaining.values())
        try:
            await asyncio.gather(*sends)
        except asyncio.CancelledError:
            # The radio is stopping: nobody waiting for these commands may hang.
            for item in items:
                _settle(item.future, RadioUnavailable("the zigbee radio stopped", device=item.command.device))
            raise

    async def _send_group(
        self, app: zigpy.application.ControllerApplication, group_id: int, items: list[_Pending]
    ) -> None:
        command = items[0].command
        try:
            group = app.groups[group_id]
            for request in mapping.plan(command, shape_of(zigbee_device(app, items[0].ieee))):
                cluster = group.endpoint[request.cluster_id]
                cast = cluster.command(command_id(cluster, request.name), **request.args)
                await self._guard(cast, f"group 0x{group_id:04x}")
        except Exception as exc:  # handed to every waiting caller
            log.warning("group cast 0x%04x %s failed: %r", group_id, command.name, exc)
            for item in items:
                _settle(item.future, as_command_error(exc, item.command.device))
            return
        log.debug("group cast 0x%04x %s covered %d device(s)", group_id, command.name, len(items))
        for item in items:
            _settle(item.future, None)

    async def _send_single(self, item: _Pending) -> None:
        try:
            app = self._app()
            if app is None:
                raise RadioUnavailable("the zigbee radio is recovering", device=item.command.device)
            device = zigbee_device(app, item.ieee)
            requests = mapping.plan(item.command, shape_of(device))
            await self._guard(send_requests(device, requests, item.command), item.command.device)
        except Exception as exc:  # handed to the waiting caller
            _settle(item.future, as_command_error(exc, item.command.device))
            return
        _settle(item.future, None)


def _settle(future: asyncio.Future[None], exc: CommandError | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
