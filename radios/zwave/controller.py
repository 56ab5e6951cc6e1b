"""The controller: start-up sequence, SendData with jam recovery, inclusion, exclusion, failed nodes.

Rules of this file: one Controller wraps one open Driver. It knows the Serial API flows (which
requests, in which order, which callbacks end them) but nothing about command classes or devices.
Unsolicited messages it does not consume itself go to `on_message`; flows that wait for an
unsolicited message (a NIF, inclusion progress) register a waiter with `expect()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from radios.zwave.driver import Driver, MessageHandler
from radios.zwave.errors import ControllerReset, SerialClosed, TransactionFailed
from radios.zwave.messages import (
    AddNodeDskToNetworkRequest,
    AddNodeStatus,
    AddNodeToNetworkCallback,
    AddNodeToNetworkRequest,
    AddRemoveMode,
    ApplicationUpdate,
    ControllerCapability,
    GetControllerCapabilitiesRequest,
    GetControllerCapabilitiesResponse,
    GetControllerVersionRequest,
    GetControllerVersionResponse,
    GetNodeProtocolInfoRequest,
    GetNodeProtocolInfoResponse,
    GetSerialApiCapabilitiesRequest,
    GetSerialApiCapabilitiesResponse,
    GetSerialApiInitDataRequest,
    GetSerialApiInitDataResponse,
    IsFailedNodeRequest,
    IsFailedNodeResponse,
    MemoryGetIdRequest,
    MemoryGetIdResponse,
    Message,
    NodeInfo,
    RemoveFailedNodeCallback,
    RemoveFailedNodeRequest,
    RemoveFailedNodeResponse,
    RemoveFailedStatus,
    RemoveNodeFromNetworkCallback,
    RemoveNodeFromNetworkRequest,
    RemoveNodeStatus,
    Request,
    RequestNodeInfoRequest,
    RequestNodeInfoResponse,
    SendDataAbortRequest,
    SendDataCallback,
    SendDataRequest,
    SendDataResponse,
    SerialApiStarted,
    SoftResetRequest,
    TransmitStatus,
    UnknownMessage,
    UpdateState,
)
from radios.zwave.scheduler import Priority
from radios.zwave.transaction import DEFAULT_TIMEOUTS, Failure, Timeouts

log = logging.getLogger(__name__)
T = TypeVar("T", bound=Message)
C = TypeVar("C", bound=Message)

#: How long a stick may take to come back after SoftReset (700 series: well under a second).
SOFT_RESET_WAIT = 1.5
#: After this many jammed SendData in a row (no callback even after SendDataAbort), soft-reset the stick.
JAMS_BEFORE_RESET = 2
NIF_TIMEOUT = 5.0


class StartupFailed(SerialClosed):
    """The stick did not answer the start-up sequence, even after a soft reset."""


@dataclass(frozen=True, slots=True)
class ControllerInfo:
    """What the start-up sequence learned about the stick and its network."""

    version: str
    library_type: int
    firmware_version: str
    manufacturer_id: int
    product_type: int
    product_id: int
    supported_functions: tuple[int, ...]
    home_id: int
    node_id: int
    node_ids: tuple[int, ...]
    api_version: int
    capabilities: ControllerCapability

    @property
    def home_id_hex(self) -> str:
        """The home id as 8 hex digits, used to key persisted node data."""
        return f"{self.home_id:08x}"


@dataclass(frozen=True, slots=True)
class Included:
    """A node that joined, with the NIF it sent while joining."""

    node_id: int
    info: NodeInfo | None


Waiter = tuple[Callable[[Message], bool], "asyncio.Future[Message]"]


class Controller:
    """The Serial API flows over one Driver; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        on_message: MessageHandler,
        on_lost: Callable[[Exception], None] | None = None,
        timeouts: Timeouts | None = None,
        soft_reset_wait: float = SOFT_RESET_WAIT,
    ) -> None:
        self.url = url
        self.info: ControllerInfo | None = None
        self.soft_reset_wait = soft_reset_wait
        self.soft_resets = 0
        self.aborts = 0
        self._on_message = on_message
        self._waiters: list[Waiter] = []
        self._jams = 0
        #: Called after a soft reset the stick came back from (it forgot its network mode).
        self.on_soft_reset: Callable[[], None] | None = None
        self.driver = Driver(
            url, on_message=self._message, on_lost=on_lost, timeouts=timeouts or DEFAULT_TIMEOUTS
        )

    # --- life -------------------------------------------------------------------------------------

    async def start(self) -> ControllerInfo:
        """Open the port and run the start-up sequence (INS12350 6.1), soft-resetting a confused stick."""
        await self.driver.open()
        try:
            version = await self._request(GetControllerVersionRequest(), GetControllerVersionResponse)
        except TransactionFailed as exc:
            # A stick that does not answer its first request is in an unknown state: restart it.
            log.warning("zwave: controller did not answer (%s); soft-resetting it", exc.reason)
            if not await self.soft_reset():
                await self.driver.close()
                raise StartupFailed(
                    f"Z-Wave controller on {self.url} does not answer, even after a soft reset"
                ) from exc
            try:
                version = await self._request(GetControllerVersionRequest(), GetControllerVersionResponse)
            except TransactionFailed:
                await self.driver.close()
                raise StartupFailed(
                    f"Z-Wave controller on {self.url} does not answer after a soft reset"
                ) from None
        caps = await self._request(GetSerialApiCapabilitiesRequest(), GetSerialApiCapabilitiesResponse)
        ids = await self._request(MemoryGetIdRequest(), MemoryGetIdResponse)
        init = await self._request(GetSerialApiInitDataRequest(), GetSerialApiInitDataResponse)
        role = await self._request(GetControllerCapabilitiesRequest(), GetControllerCapabilitiesResponse)
        self.info = ControllerInfo(
            version=version.version,
            library_type=version.library_type,
            firmware_version=caps.firmware_version,
            manufacturer_id=caps.manufacturer_id,
            product_type=caps.product_type,
            product_id=caps.product_id,
            supported_functions=caps.supported_functions,
            home_id=ids.home_id,
            node_id=ids.node_id,
            node_ids=init.node_ids,
            api_version=init.api_version,
            capabilities=role.capabilities,
        )
        log.info(
            "zwave: controller %s (firmware %s), home %08x, node %d, %d node(s) in the network",
            version.version,
            caps.firmware_version,
            ids.home_id,
            ids.node_id,
            len(init.node_ids),
        )
        return self.info

    async def close(self) -> None:
        """Close the link; pending waits fail."""
        await self.driver.close()
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(SerialClosed("the Z-Wave controller link was closed"))
                future.exception()  # whoever awaits it gets the error; nobody awaiting is fine too
        self._waiters.clear()

    async def soft_reset(self) -> bool:
        """Restart the stick's firmware; True if it announced itself again (or simply answers)."""
        back = await self._soft_reset()
        if back and self.on_soft_reset is not None:
            self.on_soft_reset()  # the stick forgot its network mode (SmartStart listening)
        return back

    async def _soft_reset(self) -> bool:
        self.soft_resets += 1
        # The SoftReset transaction ends with SerialApiStarted; this waiter catches one that comes
        # before the ACK (the transaction then fails with ControllerReset).
        started = self.expect(lambda m: isinstance(m, SerialApiStarted))
        try:
            try:
                await self.driver.request(
                    SoftResetRequest(), timeouts=self._callback_within(self.soft_reset_wait)
                )
                return True
            except ControllerReset:
                return True
            except TransactionFailed as exc:
                if exc.reason != Failure.NO_CALLBACK.name:
                    log.warning("zwave: the controller did not even ACK SoftReset")
                    try:
                        async with asyncio.timeout(self.soft_reset_wait):
                            await started
                        return True
                    except TimeoutError:
                        pass
            # 500-series sticks restart silently; if it answers now, it is back.
            try:
                await self._request(GetControllerVersionRequest(), GetControllerVersionResponse)
            except TransactionFailed:
                return False
            return True
        finally:
            self._drop_waiter(started)

    def _callback_within(self, seconds: float) -> Timeouts:
        """The driver's timeouts, with `seconds` for the callback (or completion frame)."""
        return dataclasses.replace(self.driver.timeouts, callback=seconds)

    # --- unsolicited messages ---------------------------------------------------------------------

    def expect(self, predicate: Callable[[Message], bool]) -> asyncio.Future[Message]:
        """A future for the next unsolicited message matching `predicate` (cancel or await it)."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    def _drop_waiter(self, future: asyncio.Future[Message]) -> None:
        self._waiters = [(p, f) for p, f in self._waiters if f is not future]
        if not future.done():
            future.cancel()

    def _message(self, message: Message | UnknownMessage) -> None:
        if isinstance(message, Message):
            for predicate, future in list(self._waiters):
                if not future.done() and predicate(message):
                    future.set_result(message)
                    self._drop_waiter(future)
                    return
        self._on_message(message)

    async def _request(self, request: Request, kind: type[T], priority: Priority = Priority.CONTROLLER) -> T:
        result = await self.driver.request(request, priority=priority)
        if not isinstance(result.response, kind):
            raise TransactionFailed(
                f"{type(request).__name__}: unexpected response {result.response!r}",
                function=request.function,
                reason="BAD_RESPONSE",
            )
        return result.response

    # --- SendData -----------------------------------------------------------------------------------

    async def send_data(
        self, node_id: int, data: bytes, *, priority: Priority = Priority.USER, key: Hashable | None = None
    ) -> SendDataCallback:
        """Send CC bytes to a node in its turn (see scheduler.py); return the callback (check its
        status) or raise on a jammed stick."""
        try:
            result = await self.driver.request(SendDataRequest(node_id, data), priority=priority, key=key)
        except TransactionFailed as exc:
            if exc.reason == "NO_CALLBACK":
                await self._unjam()
            raise
        self._jams = 0
        if isinstance(result.response, SendDataResponse) and not result.response.accepted:
            raise TransactionFailed(
                f"the controller refused SendData to node {node_id} (busy)",
                function=SendDataRequest.function,
                reason="REFUSED",
            )
        if not isinstance(result.callback, SendDataCallback):
            raise TransactionFailed(
                f"SendData to node {node_id}: no callback",
                function=SendDataRequest.function,
                reason="NO_CALLBACK",
            )
        return result.callback

    async def _unjam(self) -> None:
        """INS12350: a SendData without callback is aborted; a stick that keeps jamming is soft-reset."""
        self._jams += 1
        self.aborts += 1
        log.warning("zwave: SendData callback missing; aborting it (jam %d)", self._jams)
        # A late callback may slip in before the abort; otherwise the abort ends with it.
        late = self.expect(lambda m: isinstance(m, SendDataCallback))
        answered = False
        try:
            result = await self.driver.request(SendDataAbortRequest(), timeouts=self._callback_within(1.0))
            answered = isinstance(result.callback, SendDataCallback)
        except TransactionFailed:
            pass
        finally:
            answered = answered or (late.done() and not late.cancelled())
            self._drop_waiter(late)
        if not answered or self._jams >= JAMS_BEFORE_RESET:
            log.warning("zwave: controller still jammed; soft-resetting it")
            self._jams = 0
            await self.soft_reset()

    # --- nodes --------------------------------------------------------------------------------------

    async def node_protocol_info(self, node_id: int) -> GetNodeProtocolInfoResponse:
        """What the controller knows about a node (listening, device class)."""
        return await self._request(
            GetNodeProtocolInfoRequest(node_id), GetNodeProtocolInfoResponse, Priority.POLL
        )

    async def request_node_info(self, node_id: int, timeout: float = NIF_TIMEOUT) -> NodeInfo | None:
        """Ask a node for its NIF; None if it did not answer.

        The transaction lasts until the ApplicationUpdate (NIF or failure): the stick is busy until
        then and refuses other requests, so the driver's queue must not move on at the response.
        """
        try:
            result = await self.driver.request(
                RequestNodeInfoRequest(node_id),
                timeouts=self._callback_within(timeout),
                priority=Priority.POLL,
            )
        except TransactionFailed as exc:
            if exc.reason != Failure.NO_CALLBACK.name:
                raise
            log.info("zwave: node %d: no node information within %.1f s", node_id, timeout)
            return None
        if not isinstance(result.response, RequestNodeInfoResponse):
            raise TransactionFailed(
                f"RequestNodeInfoRequest: unexpected response {result.response!r}",
                function=RequestNodeInfoRequest.function,
                reason="BAD_RESPONSE",
            )
        update = result.callback
        if (
            result.response.sent
            and isinstance(update, ApplicationUpdate)
            and update.state == UpdateState.NODE_INFO_RECEIVED
        ):
            return update.info
        return None

    async def is_failed(self, node_id: int) -> bool:
        """True if the controller lists the node as failed."""
        return (await self._request(IsFailedNodeRequest(node_id), IsFailedNodeResponse)).failed

    async def remove_failed(self, node_id: int) -> bool:
        """Remove a failed node; True if it was removed, False if it answered (so it is not failed)."""
        result = await self.driver.request(RemoveFailedNodeRequest(node_id))
        if isinstance(result.response, RemoveFailedNodeResponse) and result.response.result != 0:
            return False
        callback = result.callback
        return (
            isinstance(callback, RemoveFailedNodeCallback)
            and callback.status == RemoveFailedStatus.NODE_REMOVED
        )

    # --- inclusion and exclusion --------------------------------------------------------------------

    async def smart_start_listen(self) -> None:
        """Put the stick in SmartStart listen mode: it reports nodes asking to join (SmartStartRequest)."""
        mode = AddRemoveMode.SMART_START_LISTEN | AddRemoveMode.NETWORK_WIDE
        await self.driver.request(AddNodeToNetworkRequest(mode, callback=False))

    async def smart_start_stop(self) -> None:
        """Leave SmartStart listen mode (a STOP without callback, as after an inclusion)."""
        await self.driver.request(AddNodeToNetworkRequest(AddRemoveMode.STOP, callback=False))

    async def add_node(self, timeout: float, *, home_ids: tuple[int, int] | None = None) -> Included | None:
        """Open inclusion until one node joins or `timeout` passes; None if nobody joined.

        `home_ids` (NWI, auth) include only the SmartStart node whose DSK gives them."""
        progress: asyncio.Queue[AddNodeToNetworkCallback] = asyncio.Queue()
        waiter = self._progress_waiter(AddNodeToNetworkCallback, progress)
        joined: Included | None = None
        mode = AddRemoveMode.ANY | AddRemoveMode.HIGH_POWER | AddRemoveMode.NETWORK_WIDE
        start: AddNodeToNetworkRequest | AddNodeDskToNetworkRequest = AddNodeToNetworkRequest(mode)
        if home_ids is not None:
            mode = AddRemoveMode.SMART_START_DSK | AddRemoveMode.HIGH_POWER | AddRemoveMode.NETWORK_WIDE
            start = AddNodeDskToNetworkRequest(mode, nwi_home_id=home_ids[0], auth_home_id=home_ids[1])
        try:
            first = await self.driver.request(start)
            if isinstance(first.callback, AddNodeToNetworkCallback):
                progress.put_nowait(first.callback)
            async with asyncio.timeout(timeout):
                while True:
                    step = await progress.get()
                    if step.status == AddNodeStatus.ADDING_SLAVE:
                        joined = Included(step.node_id, step.info)
                        log.info("zwave: node %d is joining", step.node_id)
                    elif step.status == AddNodeStatus.PROTOCOL_DONE:
                        break
                    elif step.status == AddNodeStatus.FAILED:
                        log.warning("zwave: inclusion failed")
                        joined = None
                        break
        except TimeoutError:
            pass
        finally:
            waiter()
            await self._stop_inclusion(AddNodeToNetworkRequest, joined is not None)
        return joined

    async def remove_node(self, timeout: float) -> int | None:
        """Open exclusion until one node leaves or `timeout` passes; the node id, or None."""
        progress: asyncio.Queue[RemoveNodeFromNetworkCallback] = asyncio.Queue()
        waiter = self._progress_waiter(RemoveNodeFromNetworkCallback, progress)
        left: int | None = None
        mode = AddRemoveMode.ANY | AddRemoveMode.HIGH_POWER | AddRemoveMode.NETWORK_WIDE
        try:
            first = await self.driver.request(RemoveNodeFromNetworkRequest(mode))
            if isinstance(first.callback, RemoveNodeFromNetworkCallback):
                progress.put_nowait(first.callback)
            async with asyncio.timeout(timeout):
                while True:
                    step = await progress.get()
                    if step.status == RemoveNodeStatus.REMOVING_SLAVE and step.node_id:
                        left = step.node_id
                    elif step.status == RemoveNodeStatus.DONE:
                        left = step.node_id or left
                        break
                    elif step.status == RemoveNodeStatus.FAILED:
                        break
        except TimeoutError:
            pass
        finally:
            waiter()
            await self._stop_inclusion(RemoveNodeFromNetworkRequest, False)
        return left

    def _progress_waiter(self, kind: type[C], queue: asyncio.Queue[C]) -> Callable[[], None]:
        """Route every unsolicited `kind` message into `queue` until the returned remover is called."""
        active = True

        def grab(m: Message) -> bool:
            if active and isinstance(m, kind):
                queue.put_nowait(m)
            return False  # never resolve: this waiter is a tap, not a one-shot

        entry: Waiter = (grab, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)

        def remove() -> None:
            nonlocal active
            active = False
            self._drop_waiter(entry[1])

        return remove

    async def _stop_inclusion(
        self, kind: type[AddNodeToNetworkRequest] | type[RemoveNodeFromNetworkRequest], joined: bool
    ) -> None:
        if not self.driver.is_open:
            return
        try:
            if joined:
                # After PROTOCOL_DONE: STOP with a callback (DONE), then STOP without one (INS12350 6.4).
                await self.driver.request(kind(AddRemoveMode.STOP))
            await self.driver.request(kind(AddRemoveMode.STOP, callback=False))
        except (TransactionFailed, SerialClosed) as exc:
            log.warning("zwave: could not stop %s: %s", kind.__name__, exc)


def transmit_ok(callback: SendDataCallback) -> bool:
    """True if the node acknowledged the frame."""
    return callback.status in (TransmitStatus.OK, TransmitStatus.VERIFIED)
