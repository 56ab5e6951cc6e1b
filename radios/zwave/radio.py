"""`ZWaveRadio`: our Serial API host stack behind the one radio interface.

Rules of this file: this is the only Z-Wave module that knows canonical devices and commands. It
owns the Controller (re-created on every reconnect), the node records, interviews, wake-up queues,
inclusion and recovery. Reports become events through the command class package's
`report_to_events`; commands become CC frames through `command_to_ccs`. Events go out through
`ctx.emit` synchronously from the frame that carried them (the hot path: no disk, no awaits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from hub_core.errors import DeliveryFailed, DeliveryTimeout, InvalidCommand, ProtocolError, RadioUnavailable
from hub_core.model import (
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    DeviceOnline,
    DeviceRemoved,
    Protocol,
    StateChanged,
    Value,
)
from radios.base import Radio, RadioContext, RadioState
from radios.zwave.cc import (
    CCCommand,
    CommandClass,
    NodeCapabilities,
    SupervisionReport,
    SupervisionStatus,
    answers,
    capabilities_of,
    command_to_ccs,
    encapsulate,
    expected_response,
    parse_cc,
    report_to_events,
    state_queries,
    supervision_reply,
    unwrap,
)
from radios.zwave.cc.management import WakeUpNoMoreInformation, WakeUpNotification
from radios.zwave.controller import Controller, Included, transmit_ok
from radios.zwave.errors import ControllerReset, NodeUnreachable
from radios.zwave.interview import Interview
from radios.zwave.messages import (
    ApplicationCommandHandler,
    ApplicationUpdate,
    Message,
    SerialApiStarted,
    UnknownMessage,
    UpdateState,
)
from radios.zwave.node import NodeRecord, NodeStore
from radios.zwave.transaction import Timeouts

log = logging.getLogger(__name__)

#: Back-off between reconnect attempts after the stick vanished (seconds); the last one repeats.
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: How long to wait for a report after a Get during interviews and refreshes.
QUERY_TIMEOUT = 3.0
#: How long to wait for a Supervision Report after a supervised command.
SUPERVISION_TIMEOUT = 5.0
#: Exclusion started by remove_device stays open this long for the device's button press.
EXCLUSION_SECONDS = 60.0

_GENERIC_NAMES = {
    0x07: "sensor",
    0x08: "thermostat",
    0x10: "switch",
    0x11: "dimmer",
    0x18: "remote",
    0x20: "binary sensor",
    0x21: "multisensor",
    0x31: "meter",
    0x40: "door lock",
}
_MANUFACTURERS = {
    0x0086: "Aeotec",
    0x0090: "Kwikset",
    0x010F: "Fibaro",
    0x0190: "Adax",
    0x0000: "Silicon Labs",
}


@dataclass(slots=True)
class _Query:
    node_id: int
    endpoint: int
    request: CCCommand
    future: asyncio.Future[CCCommand]


@dataclass(slots=True)
class _Sleeper:
    """A sleeping node's wake-up state: commands wait for `awake`; No More Information when idle."""

    awake: asyncio.Event = field(default_factory=asyncio.Event)
    pending: int = 0


def _naming(exc: RadioUnavailable, device: str, doing: str = "cannot reach") -> RadioUnavailable:
    """A RadioUnavailable for `exc` (from a layer that knows no devices) that names `device`."""
    return RadioUnavailable(f"{doing} {device}: {exc}", device=device)


def parse_device_id(device: str) -> tuple[int, int]:
    """`zwave-<node>[-<endpoint>]` -> (node, endpoint); ValueError if malformed."""
    parts = device.split("-")
    if parts[0] != "zwave" or len(parts) not in (2, 3):
        raise ValueError(f"not a Z-Wave device id: {device!r}")
    node = int(parts[1])
    endpoint = int(parts[2]) if len(parts) == 3 else 0
    if not 1 <= node <= 232 or not 0 <= endpoint <= 127:
        raise ValueError(f"Z-Wave device id out of range: {device!r}")
    return node, endpoint


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
        reconnect_delays: tuple[float, ...] = RECONNECT_DELAYS,
        soft_reset_wait: float = 1.5,
    ) -> None:
        super().__init__(ctx)
        self.port = port
        self.timeouts = timeouts
        self.query_timeout = query_timeout
        self.reconnect_delays = reconnect_delays
        self.soft_reset_wait = soft_reset_wait
        self.controller: Controller | None = None
        self.nodes: dict[int, NodeRecord] = {}
        self.interviews = 0
        self.reconnects = 0
        self._store: NodeStore | None = None
        self._announced: set[int] = set()
        self._offline: set[int] = set()
        self._pending_state: dict[DeviceId, dict[str, Value]] = {}
        #: Last reported value per device and attribute (what `toggle` toggles).
        self._last_state: dict[DeviceId, dict[str, Value]] = {}
        self._queries: list[_Query] = []
        self._supervision: dict[int, asyncio.Future[SupervisionReport]] = {}
        self._session = 0
        self._sleepers: dict[int, _Sleeper] = {}
        self._setting_up: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inclusion: asyncio.Task[None] | None = None
        self._exclusion: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._recovery: asyncio.Task[None] | None = None
        self._stopping = False
        self._persist_lock = asyncio.Lock()

    # --- life -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the stick, run the start-up sequence, announce known nodes, interview new ones."""
        self._stopping = False
        self.state = RadioState.STARTING
        try:
            await self._connect()
        except BaseException:
            self.state = RadioState.STOPPED
            raise
        self._set_running()

    async def stop(self) -> None:
        """Close the stick and cancel everything started; safe to call twice."""
        self._stopping = True
        self._running.clear()
        tasks = [t for t in (self._inclusion, self._recovery, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._inclusion = self._recovery = None
        if self.controller is not None:
            await self.controller.close()
        self._fail_waiters(RadioUnavailable("the Z-Wave radio stopped"))
        self.state = RadioState.STOPPED

    def _set_running(self) -> None:
        self.state = RadioState.RUNNING
        self._running.set()

    async def _connect(self) -> None:
        controller = Controller(
            self.port,
            on_message=self._on_message,
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
        store = NodeStore(self.ctx.data_dir, info.home_id)
        stored: dict[int, NodeRecord] = {}
        if self._store is None or self._store.path != store.path:
            # First start, or another stick (another network): what we knew is on disk, per home id.
            self._store = store
            stored = await asyncio.to_thread(store.load)
            self.nodes = {}
            self._announced.clear()
        present = {n for n in info.node_ids if n != info.node_id}
        first_contact = bool(stored) or not self.nodes
        for node_id in sorted(present):
            record = self.nodes.get(node_id) or stored.get(node_id) or NodeRecord(node_id)
            self.nodes[node_id] = record
        for node_id in sorted(set(self.nodes) - present):
            # Excluded or reset while we were away: the network no longer has it.
            self._forget(node_id)
        if first_contact:
            self._forget_known_absent(present)
        for node_id in sorted(present):
            record = self.nodes[node_id]
            if record.interviewed:
                if node_id not in self._announced:
                    self._announce(record)
                if not record.sleeping:
                    self._spawn(self._refresh(record), f"refresh node {node_id}")
            else:
                # Protocol info first: a sleeping node's interview then waits for its wake-up.
                self._spawn(self._setup_node(record), f"interview node {node_id}")

    def _on_lost(self, exc: Exception) -> None:
        """The serial link died: recover in-process with back-off."""
        if self._stopping:
            return
        log.warning("zwave: lost the controller (%s); reconnecting", exc)
        self._begin_recovery(self._reconnect())

    def _begin_recovery(self, coro: Coroutine[Any, Any, None]) -> None:
        self.state = RadioState.RECOVERING
        self._running.clear()
        if self._recovery is not None and not self._recovery.done():
            coro.close()
            return
        self._recovery = asyncio.get_running_loop().create_task(coro, name="zwave recovery")

    async def _reconnect(self) -> None:
        if self.controller is not None:
            await self.controller.close()
        attempt = 0
        while not self._stopping:
            delay = self.reconnect_delays[min(attempt, len(self.reconnect_delays) - 1)]
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self._connect()
            except (RadioUnavailable, OSError) as exc:
                # Not there yet, or not answering yet (TransactionFailed, ControllerReset): try again.
                log.info("zwave: reconnect attempt %d failed: %s", attempt, exc)
                continue
            self.reconnects += 1
            log.info("zwave: controller back after %d attempt(s)", attempt)
            self._set_running()
            return

    async def _restart_after_reset(self) -> None:
        """The stick restarted by itself: run the start-up sequence again on the same link."""
        controller = self.controller
        if controller is None:
            return
        try:
            await controller.close()
        finally:
            await self._reconnect()

    # --- unsolicited messages ---------------------------------------------------------------------

    def _on_message(self, message: Message | UnknownMessage) -> None:
        if isinstance(message, ApplicationCommandHandler):
            self._command_received(message)
        elif isinstance(message, ApplicationUpdate):
            if message.state == UpdateState.NODE_INFO_RECEIVED and message.node_id in self.nodes:
                # A sleeping node sends its NIF when it wakes up (and when its button is pressed).
                self._node_heard(message.node_id)
                if self.nodes[message.node_id].sleeping:
                    self._woke_up(message.node_id)
        elif (
            isinstance(message, SerialApiStarted) and self.state is RadioState.RUNNING and not self._stopping
        ):
            log.warning("zwave: the controller restarted by itself; running start-up again")
            self._fail_waiters(ControllerReset("the Z-Wave controller restarted"))
            self._begin_recovery(self._restart_after_reset())

    def _command_received(self, message: ApplicationCommandHandler) -> None:
        node_id = message.node_id
        record = self.nodes.get(node_id)
        if record is None:
            log.info("zwave: ignoring a command from unknown node %d", node_id)
            return
        self._node_heard(node_id)
        try:
            envelope = unwrap(parse_cc(message.data))
        except ProtocolError as exc:
            log.warning("zwave: node %d sent malformed %s: %s", node_id, message.data.hex(), exc)
            return
        endpoint, command = envelope.endpoint, envelope.command
        reply = supervision_reply(envelope)
        if reply is not None:
            # The node wants to know we processed its report (Supervision): always SUCCESS.
            self._spawn(self._send_quietly(record, reply), f"supervision reply node {node_id}")
        if isinstance(command, SupervisionReport):
            future = self._supervision.get(command.session_id)
            if future is not None and not future.done() and not command.more_updates:
                future.set_result(command)
            return
        for query in self._queries:
            if (
                query.node_id == node_id
                and query.endpoint == endpoint
                and not query.future.done()
                and answers(query.request, command)
            ):
                query.future.set_result(command)
        if isinstance(command, WakeUpNotification):
            self._woke_up(node_id)
            return
        self._emit_report(record, endpoint, command)

    def _emit_report(self, record: NodeRecord, endpoint: int, command: CCCommand) -> None:
        try:
            caps = record.caps.endpoint(endpoint)
        except KeyError:
            caps = record.caps
        device = record.device_id(endpoint)
        try:
            events = report_to_events(device, command, caps)
        except (ProtocolError, ValueError) as exc:
            log.warning("zwave: cannot map %r from %s: %s", command, device, exc)
            return
        if record.node_id not in self._announced:
            pending = self._pending_state.setdefault(device, {})
            self._last_state.setdefault(device, {}).update(
                {e.attribute: e.value for e in events if isinstance(e, StateChanged)}
            )
            for event in events:
                if isinstance(event, StateChanged):
                    pending[event.attribute] = event.value
            return
        state = self._last_state.setdefault(device, {})
        emit = self.ctx.emit
        for event in events:
            if isinstance(event, StateChanged):
                state[event.attribute] = event.value
            emit(event)

    def _node_heard(self, node_id: int) -> None:
        if node_id in self._offline:
            self._offline.discard(node_id)
            record = self.nodes.get(node_id)
            if record is not None and node_id in self._announced:
                for device in record.device_ids():
                    self.ctx.emit(DeviceOnline(device, True))

    def _node_silent(self, record: NodeRecord) -> None:
        if record.sleeping or record.node_id in self._offline:
            return
        self._offline.add(record.node_id)
        if record.node_id in self._announced:
            for device in record.device_ids():
                self.ctx.emit(DeviceOnline(device, False))

    # --- sending ----------------------------------------------------------------------------------

    def _live_controller(self) -> Controller:
        controller = self.controller
        if controller is None or self.state is not RadioState.RUNNING:
            raise RadioUnavailable(f"the Z-Wave radio is {self.state.value}")
        return controller

    def _frame(self, endpoint: int, command: CCCommand, supervised: bool) -> tuple[bytes, int]:
        """Encapsulate (Supervision inside Multi Channel) and return the bytes and the session id."""
        session = 0
        if supervised:
            self._session = self._session % 0x3F + 1
            session = self._session
        return encapsulate(command, endpoint, supervised, session).to_bytes(), session

    async def _transmit(self, record: NodeRecord, data: bytes, device: str | None = None) -> None:
        """SendData and check the node acknowledged; NodeUnreachable (and offline) if not."""
        controller = self._live_controller()
        callback = await controller.send_data(record.node_id, data)
        if not transmit_ok(callback):
            self._node_silent(record)
            raise NodeUnreachable(
                f"node {record.node_id} did not acknowledge ({callback.status.name})",
                node_id=record.node_id,
                status=callback.status,
                device=device,
            )
        self._node_heard(record.node_id)

    async def _send_quietly(self, record: NodeRecord, command: CCCommand) -> None:
        try:
            await self._transmit(record, command.to_bytes())
        except (RadioUnavailable, DeliveryFailed) as exc:
            log.info("zwave: could not send to node %d: %s", record.node_id, exc)

    async def query(self, node_id: int, request: CCCommand, endpoint: int = 0) -> CCCommand | None:
        """Send a Get and return the report that answers it; None if it did not come in time."""
        record = self.nodes[node_id]
        future: asyncio.Future[CCCommand] = asyncio.get_running_loop().create_future()
        query = _Query(node_id, endpoint, request, future)
        self._queries.append(query)
        try:
            frame, _ = self._frame(endpoint, request, supervised=False)
            await self._transmit(record, frame)
            async with asyncio.timeout(self.query_timeout):
                return await future
        except (TimeoutError, DeliveryFailed):
            return None  # the node did not answer; a RadioUnavailable (the stick is gone) propagates
        finally:
            self._queries.remove(query)

    async def send(self, node_id: int, command: CCCommand, endpoint: int = 0) -> bool:
        """Send a command; True if the node acknowledged it."""
        record = self.nodes[node_id]
        try:
            frame, _ = self._frame(endpoint, command, supervised=False)
            await self._transmit(record, frame)
        except DeliveryFailed:
            return False
        return True

    def _fail_waiters(self, exc: Exception) -> None:
        for future in self._supervision.values():
            if not future.done():
                future.set_exception(exc)

    # --- commands ---------------------------------------------------------------------------------

    async def execute(self, command: Command) -> None:
        """Send a canonical command; return when the node confirmed it (SendData callback, Supervision)."""
        try:
            node_id, endpoint = parse_device_id(command.device)
        except ValueError as exc:
            raise InvalidCommand(str(exc), device=command.device) from None
        record = self.nodes.get(node_id)
        if record is None:
            raise DeliveryFailed(f"{command.device} is not in this Z-Wave network", device=command.device)
        try:
            caps = record.caps.endpoint(endpoint)
        except KeyError:
            raise DeliveryFailed(
                f"node {node_id} has no end point {endpoint}", device=command.device
            ) from None
        ccs = command_to_ccs(command, caps, self._state_of(command.device))
        try:
            self._live_controller()
            await self._execute(record, endpoint, caps, command, ccs)
        except RadioUnavailable as exc:
            if exc.device is not None:
                raise
            # The layers below (driver, controller) know nodes at most, not devices.
            raise _naming(exc, command.device) from exc

    async def _execute(
        self,
        record: NodeRecord,
        endpoint: int,
        caps: NodeCapabilities,
        command: Command,
        ccs: list[CCCommand],
    ) -> None:
        sleeping = record.sleeping
        if sleeping:
            self._sleeper(record.node_id).pending += 1
        try:
            if sleeping:
                await self._wait_awake(record, command.device)
            await self._deliver_all(record, endpoint, caps, command, ccs)
        except ControllerReset:
            # The stick lost the command when it restarted: wait for recovery and try once more.
            await self._wait_running(command.device)
            await self._deliver_all(record, endpoint, caps, command, ccs)
        finally:
            if sleeping:
                self._command_done(record)

    def _state_of(self, device: str) -> dict[str, Value]:
        known = self.ctx.known_devices.get(DeviceId(device))
        return {**(known.state if known is not None else {}), **self._last_state.get(DeviceId(device), {})}

    async def _deliver_all(
        self,
        record: NodeRecord,
        endpoint: int,
        caps: NodeCapabilities,
        command: Command,
        ccs: list[CCCommand],
    ) -> None:
        supervision = caps.supports(CommandClass.SUPERVISION) or record.supports(CommandClass.SUPERVISION)
        for cc in ccs:
            # Sets are supervised where the node supports it; Gets are answered by their report anyway.
            supervised = supervision and expected_response(cc) is None
            await self._deliver(record, endpoint, cc, supervised, command.device)

    async def _deliver(
        self, record: NodeRecord, endpoint: int, command: CCCommand, supervised: bool, device: str
    ) -> None:
        data, session = self._frame(endpoint, command, supervised)
        if not session:
            await self._transmit(record, data, device)
            return
        future: asyncio.Future[SupervisionReport] = asyncio.get_running_loop().create_future()
        self._supervision[session] = future
        try:
            await self._transmit(record, data, device)
            async with asyncio.timeout(SUPERVISION_TIMEOUT):
                report = await future
        except TimeoutError:
            raise DeliveryTimeout(
                f"{device} did not report the outcome of {command!r}", device=device
            ) from None
        finally:
            self._supervision.pop(session, None)
        if report.status == SupervisionStatus.NO_SUPPORT:
            raise DeliveryFailed(f"{device} does not support {type(command).__name__}", device=device)
        if not report.succeeded:
            raise DeliveryFailed(f"{device} failed to carry out {type(command).__name__}", device=device)

    async def _wait_running(self, device: str) -> None:
        try:
            await self.wait_running(10)
        except TimeoutError:
            raise RadioUnavailable("the Z-Wave controller did not come back", device=device) from None

    async def wait_running(self, timeout: float) -> None:
        """Return once the radio is RUNNING (e.g. after a recovery); TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            await self._running.wait()

    # --- sleeping nodes ---------------------------------------------------------------------------

    def _sleeper(self, node_id: int) -> _Sleeper:
        sleeper = self._sleepers.get(node_id)
        if sleeper is None:
            sleeper = self._sleepers[node_id] = _Sleeper()
        return sleeper

    async def _wait_awake(self, record: NodeRecord, device: str) -> None:
        """Commands to a sleeping node wait until it wakes up (the caller's timeout bounds the wait)."""
        sleeper = self._sleeper(record.node_id)
        if not sleeper.awake.is_set():
            log.info("zwave: node %d is asleep; %s waits for its wake-up", record.node_id, device)
            await sleeper.awake.wait()

    def _command_done(self, record: NodeRecord) -> None:
        sleeper = self._sleeper(record.node_id)
        sleeper.pending -= 1
        if sleeper.pending <= 0 and sleeper.awake.is_set() and record.node_id not in self._setting_up:
            self._spawn(self._back_to_sleep(record), f"no more information node {record.node_id}")

    def _woke_up(self, node_id: int) -> None:
        record = self.nodes.get(node_id)
        if record is None:
            return
        log.info("zwave: node %d woke up", node_id)
        sleeper = self._sleeper(node_id)
        sleeper.awake.set()
        if not record.interviewed:
            if node_id not in self._setting_up:
                self._spawn(self._setup_node(record, awake=True), f"interview node {node_id}")
        elif sleeper.pending <= 0:
            self._spawn(self._back_to_sleep(record), f"no more information node {node_id}")

    async def _back_to_sleep(self, record: NodeRecord) -> None:
        sleeper = self._sleeper(record.node_id)
        await asyncio.sleep(0)  # let commands released by the wake-up enqueue first
        if sleeper.pending > 0 or not sleeper.awake.is_set():
            return
        sleeper.awake.clear()
        try:
            await self.send(record.node_id, WakeUpNoMoreInformation())
        except RadioUnavailable as exc:
            log.info("zwave: node %d: could not send No More Information: %s", record.node_id, exc)

    # --- node setup -------------------------------------------------------------------------------

    async def _setup_node(
        self, record: NodeRecord, info_ccs: tuple[int, ...] | None = None, *, awake: bool = False
    ) -> None:
        """Protocol info, NIF, interview, first values, announce, persist; `awake`: it can hear us now."""
        node_id = record.node_id
        task = asyncio.current_task()
        assert task is not None
        self._setting_up[node_id] = task
        try:
            controller = self._live_controller()
            proto = await controller.node_protocol_info(node_id)
            record.listening = proto.listening
            record.frequent_listening = proto.frequent_listening
            record.generic, record.specific = proto.generic, proto.specific
            # A wake-up that arrived while we asked for protocol info counts too.
            awake = awake or self._sleeper(node_id).awake.is_set()
            if record.sleeping and not awake:
                log.info("zwave: node %d sleeps; its interview waits for its wake-up", node_id)
                return
            if record.sleeping:
                self._sleeper(node_id).awake.set()  # it is awake now: just included or just woke up
            if info_ccs is None and not record.caps.ccs:
                info = await controller.request_node_info(node_id)
                info_ccs = info.command_classes if info is not None else None
            if info_ccs is None and not record.caps.ccs:
                log.warning("zwave: node %d sent no node information; interview postponed", node_id)
                return
            if info_ccs is not None:
                record.caps = record.caps.with_ccs(info_ccs)
            self.interviews += 1
            await Interview(record, self, controller.info.node_id if controller.info else 1).run()
            if not record.interviewed:
                return
            await self._refresh(record)
            self._announce(record)
            await self._persist()
        except (RadioUnavailable, DeliveryFailed) as exc:
            log.warning(
                "zwave: setting up node %d failed: %s (retried on its next wake-up or restart)", node_id, exc
            )
        finally:
            self._setting_up.pop(node_id, None)
            if (
                record.sleeping
                and awake
                and self._sleeper(node_id).pending <= 0
                and self.state is RadioState.RUNNING
            ):
                await self._back_to_sleep(record)

    async def _refresh(self, record: NodeRecord) -> None:
        """Ask every device of the node for its current values (the reports become state)."""
        try:
            for endpoint in (0, *sorted(record.caps.endpoints)):
                for get in state_queries(record.caps.endpoint(endpoint)):
                    await self.query(record.node_id, get, endpoint)
        except RadioUnavailable as exc:
            log.info("zwave: refresh of node %d stopped: %s", record.node_id, exc)

    def _describe(self, record: NodeRecord, endpoint: int) -> Device:
        device = record.device_id(endpoint)
        known = self.ctx.known_devices.get(device)
        caps = record.caps.endpoint(endpoint)
        kind = _GENERIC_NAMES.get(record.generic, "device")
        name = known.name if known is not None else f"Z-Wave {kind} {record.node_id}"
        if endpoint and known is None:
            name += f" end point {endpoint}"
        manufacturer_id = record.caps.manufacturer_id
        manufacturer = (
            _MANUFACTURERS.get(manufacturer_id, f"0x{manufacturer_id:04x}")
            if manufacturer_id is not None
            else ""
        )
        return Device(
            id=device,
            protocol=Protocol.ZWAVE,
            name=name,
            manufacturer=manufacturer,
            model=record.caps.model,
            online=record.node_id not in self._offline,
            capabilities=capabilities_of(caps),
            state=self._pending_state.pop(device, {}),
        )

    def _announce(self, record: NodeRecord) -> None:
        self._announced.add(record.node_id)
        for endpoint in (0, *sorted(record.caps.endpoints)):
            self.ctx.emit(DeviceAdded(self._describe(record, endpoint)))

    def _forget(self, node_id: int) -> None:
        record = self.nodes.pop(node_id, None)
        self._sleepers.pop(node_id, None)
        self._offline.discard(node_id)
        ids = record.device_ids() if record is not None else [DeviceId(f"zwave-{node_id}")]
        was_announced = node_id in self._announced or any(d in self.ctx.known_devices for d in ids)
        self._announced.discard(node_id)
        if was_announced:
            for device in ids:
                self.ctx.emit(DeviceRemoved(device))

    def _forget_known_absent(self, present: set[int]) -> None:
        """Devices the hub remembers on nodes this network no longer has are removed."""
        for device in sorted(self.ctx.known_devices):
            if self.ctx.known_devices[device].protocol is not Protocol.ZWAVE:
                continue
            try:
                node_id, _ = parse_device_id(device)
            except ValueError:
                continue
            if node_id not in present:
                log.info("zwave: %s is no longer in the network", device)
                self.ctx.emit(DeviceRemoved(device))

    async def _persist(self) -> None:
        # One writer at a time, each writing the newest records: the last write wins, whole.
        async with self._persist_lock:
            if self._store is not None:
                records = {
                    n: NodeRecord.from_json(r.to_json()) for n, r in self.nodes.items() if r.interviewed
                }
                await asyncio.to_thread(self._store.save, records)

    # --- inclusion and exclusion ------------------------------------------------------------------

    async def set_inclusion(self, seconds: float) -> None:
        """Open inclusion for `seconds` (nodes join one at a time, each interviewed); 0 closes it."""
        self._live_controller()
        # One network mode at a time: opening or closing inclusion also ends an exclusion.
        await self._end_network_modes()
        if seconds > 0:
            self._inclusion = asyncio.get_running_loop().create_task(
                self._include_until(time.monotonic() + seconds), name="zwave inclusion"
            )

    async def _include_until(self, deadline: float) -> None:
        while (remaining := deadline - time.monotonic()) > 0:
            controller = self.controller
            if controller is None or self.state is not RadioState.RUNNING:
                return
            try:
                joined: Included | None = await controller.add_node(remaining)
            except (RadioUnavailable, DeliveryFailed) as exc:
                log.warning("zwave: inclusion stopped: %s", exc)
                return
            if joined is None:
                return
            record = NodeRecord(joined.node_id)
            self._forget(joined.node_id)  # a re-included node id starts afresh
            self.nodes[joined.node_id] = record
            ccs = joined.info.command_classes if joined.info is not None else None
            # The setup outlives a closed inclusion window: it is tracked, and only shielded here.
            setup = self._spawn(self._setup_node(record, ccs, awake=True), f"interview node {joined.node_id}")
            await asyncio.shield(setup)

    async def remove_device(self, device: DeviceId) -> None:
        """Remove a failed node at once; otherwise open exclusion for the device's button press."""
        try:
            node_id, _ = parse_device_id(device)
        except ValueError as exc:
            raise InvalidCommand(str(exc), device=device) from None
        try:
            controller = self._live_controller()
            failed = node_id in self.nodes and await controller.is_failed(node_id)
            removed = failed and await controller.remove_failed(node_id)
        except RadioUnavailable as exc:
            if exc.device is not None:
                raise
            # E.g. the stick did not answer IsFailedNode: say which device could not be removed.
            raise _naming(exc, device, "cannot remove") from exc
        if removed:
            self._forget(node_id)
            await self._persist()
            return
        if self._exclusion is not None and not self._exclusion.done():
            return  # already waiting for a button press; whichever node leaves is reported
        await self._end_network_modes()
        self._exclusion = self._spawn(self._exclude(EXCLUSION_SECONDS), "zwave exclusion")

    async def _end_network_modes(self) -> None:
        tasks = [t for t in (self._inclusion, self._exclusion) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inclusion = self._exclusion = None

    async def _exclude(self, seconds: float) -> None:
        controller = self.controller
        if controller is None:
            return
        left = await controller.remove_node(seconds)
        if left is not None:
            log.info("zwave: node %d left the network", left)
            self._forget(left)
            await self._persist()

    # --- helpers ----------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("zwave: task %s failed", task.get_name(), exc_info=task.exception())

    async def settle(self) -> None:
        """Wait until background work (interviews, refreshes, wake-up handling) is done (for tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
