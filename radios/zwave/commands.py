"""Carrying out a canonical command: device id -> node and end point -> CC commands -> delivery.

Rules of this file: nothing is sent for a command that cannot be mapped (`InvalidCommand` first).
Sets are supervised where the node supports Supervision and `execute` returns once they are
delivered; the Gets that confirm them are not sent on the hot path but handed to `Verifier`
(none after a Supervision success; otherwise only if the node does not report by itself). A
command to a sleeping node holds its wake-up queue. If the stick restarts under the command, it
waits for the recovery and is sent once more; every `RadioUnavailable` leaving here names the device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping

from hub_core.errors import InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import Command, DeviceId, Value
from radios.zwave.cc import CCCommand, CommandClass, MultilevelSwitchSet, command_to_ccs, expected_response
from radios.zwave.cc.base import decode_duration
from radios.zwave.errors import ControllerReset
from radios.zwave.link import NodeLink
from radios.zwave.node import NodeRecord
from radios.zwave.nodes import NodeRegistry, parse_device_id
from radios.zwave.verify import Verifier
from radios.zwave.wakeup import WakeUpQueues


def _transition(command: CCCommand) -> float:
    """Seconds a Set takes to reach its new state (Multilevel Switch duration); 0 if immediate."""
    if isinstance(command, MultilevelSwitchSet) and command.duration is not None:
        return decode_duration(command.duration) or 0.0
    return 0.0


#: How long a command waits for the radio to come back from a stick restart before it fails.
RECOVERY_WAIT = 10.0


class Commands:
    """Executes canonical commands over the node link."""

    def __init__(
        self,
        registry: NodeRegistry,
        link: NodeLink,
        wakeups: WakeUpQueues,
        verifier: Verifier,
        *,
        state_of: Callable[[DeviceId], Mapping[str, Value]],
        check_running: Callable[[], object],
        wait_running: Callable[[float], Awaitable[None]],
    ) -> None:
        self._registry = registry
        self._link = link
        self._wakeups = wakeups
        self._state_of = state_of
        self._check_running = check_running
        self._wait_running = wait_running
        self._verifier = verifier

    async def execute(self, command: Command) -> None:
        """Send `command`; return when the node confirmed it (SendData callback, Supervision)."""
        device = command.device
        try:
            node_id, endpoint = parse_device_id(device)
        except ValueError as exc:
            raise InvalidCommand(str(exc), device=device) from None
        record = self._registry.get(node_id)
        if record is None:
            raise UnknownDevice(f"{device} is not in this Z-Wave network", device=device)
        try:
            caps = record.caps.endpoint(endpoint)
        except KeyError:
            raise UnknownDevice(f"node {node_id} has no end point {endpoint}", device=device) from None
        ccs = command_to_ccs(command, caps, self._state_of(device))
        supervision = caps.supports(CommandClass.SUPERVISION) or record.supports(CommandClass.SUPERVISION)
        sets = [cc for cc in ccs if expected_response(cc) is None]
        # The Gets confirm the Sets' new state; a command of Gets only (refresh) sends them now.
        gets = [cc for cc in ccs if expected_response(cc) is not None]
        # A sleeping node hears us only while it is awake: its Gets go in the same wake-up.
        now = ccs if record.sleeping else (sets or gets)
        try:
            self._check_running()
            awake = self._wakeups.holding(node_id, device) if record.sleeping else contextlib.nullcontext()
            async with awake:
                try:
                    await self._deliver(node_id, endpoint, now, supervision, device)
                except ControllerReset:
                    # The stick lost the command when it restarted: wait for recovery and try once more.
                    try:
                        await self._wait_running(RECOVERY_WAIT)
                    except TimeoutError:
                        raise RadioUnavailable(
                            "the Z-Wave controller did not come back", device=device
                        ) from None
                    await self._deliver(node_id, endpoint, now, supervision, device)
        except RadioUnavailable as exc:
            if exc.device is not None:
                raise
            # The layers below (driver, controller) know nodes at most, not devices.
            raise RadioUnavailable(f"cannot reach {device}: {exc}", device=device) from exc
        if sets and gets and not record.sleeping:
            self._confirm(record, endpoint, sets, gets, supervised=supervision)

    def _confirm(
        self,
        record: NodeRecord,
        endpoint: int,
        sets: list[CCCommand],
        gets: list[CCCommand],
        *,
        supervised: bool,
    ) -> None:
        """Supervision confirmed the Sets: their implied reports are the state; else verify later."""
        implied = [s.implied_report() for s in sets]
        if supervised and all(r is not None for r in implied):
            for report in implied:
                if report is not None:
                    self._registry.report(record, endpoint, report)
            self._verifier.confirmed(gets)
            return
        transition = max((_transition(s) for s in sets), default=0.0)
        self._verifier.schedule(record.node_id, endpoint, gets, transition)

    async def _deliver(
        self, node_id: int, endpoint: int, ccs: list[CCCommand], supervision: bool, device: str
    ) -> None:
        for cc in ccs:
            # Sets are supervised where the node supports it; Gets are answered by their report anyway.
            supervised = supervision and expected_response(cc) is None
            await self._link.deliver(node_id, endpoint, cc, supervised=supervised, device=device)
