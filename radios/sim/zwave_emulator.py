"""A Z-Wave Serial API controller emulated in Python on a pty, with simulated nodes and fault knobs.

The host opens `port_path` (a symlink to the pty's slave side, stable across `unplug()`/`replug()`)
like any serial port. The emulator answers the Serial API like a 700-series stick, delivers SendData
to its simulated nodes (`radios/sim/zwave_nodes.py`) and sends their reports back. Faults are
one-shot counters in `faults` (NAK, CAN, lost ACK, ignored frame, unanswered frame, garbage, missing
callback, refused SendData). The frames the host writes are recorded in `sent_frames` (the last
`SENT_FRAMES_KEPT` to 2x that: a simulated stick in a long-running demo must not grow without end);
`wait_for_frame()` awaits one.

Like a real stick, the emulator is busy from a RequestNodeInfo until its ApplicationUpdate (node
info or failure), and from a SendData or RemoveFailedNode until its callback. A host request that
arrives while it is busy (other than SendDataAbort and SoftReset, which exist for that) breaks the
one-outstanding-request rule: it is always recorded in `violations`; with `strict` set it is also
refused with CAN and dropped, as a busy stick does.

Rules of this file: its frame parser is its own (not the host's), so the two check each other; the
emulator never sleeps in the event loop: delays are `call_later`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import shutil
import sys
import tempfile
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radios.sim.zwave_nodes import SimNode, household
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import (
    AddNodeStatus,
    AddNodeToNetworkCallback,
    AddNodeToNetworkRequest,
    AddRemoveMode,
    ApplicationCommandHandler,
    ApplicationUpdate,
    ControllerCapability,
    FunctionId,
    GetControllerCapabilitiesResponse,
    GetControllerVersionResponse,
    GetNodeProtocolInfoRequest,
    GetNodeProtocolInfoResponse,
    GetSerialApiCapabilitiesResponse,
    GetSerialApiInitDataResponse,
    IsFailedNodeRequest,
    IsFailedNodeResponse,
    MemoryGetIdResponse,
    Message,
    RemoveFailedNodeCallback,
    RemoveFailedNodeRequest,
    RemoveFailedNodeResponse,
    RemoveFailedStatus,
    RemoveNodeFromNetworkCallback,
    RemoveNodeFromNetworkRequest,
    RemoveNodeStatus,
    RequestNodeInfoRequest,
    RequestNodeInfoResponse,
    SendDataCallback,
    SendDataRequest,
    SendDataResponse,
    SerialApiStarted,
    TransmitStatus,
    UpdateState,
    parse_host_frame,
)

log = logging.getLogger(__name__)

SOF, ACK, NAK, CAN = 0x01, 0x06, 0x15, 0x18
#: Requests a busy stick still takes: they exist to end what it is busy with.
_ALLOWED_WHILE_BUSY = frozenset({FunctionId.SEND_DATA_ABORT, FunctionId.SOFT_RESET})
#: Frames from the host kept for tests and the demo; the oldest are dropped past twice this many.
SENT_FRAMES_KEPT = 1024


@dataclass(slots=True)
class Faults:
    """One-shot fault counters: each applies to the next N host frames (or SendData) and counts down."""

    nak: int = 0  # answer the next host frame with NAK and drop it
    can: int = 0  # answer with CAN (collision) and drop it
    lost_ack: int = 0  # process the frame but never send its ACK
    ignore: int = 0  # neither ACK nor process (the frame was lost on the wire)
    mute: int = 0  # ACK the frame but never answer it (no response, no callback: a hung stick)
    missing_callback: int = 0  # SendData: response, then no callback until SendDataAbort
    refuse_send_data: int = 0  # SendData: response RetVal 0 (controller busy)
    garbage: bytes = b""  # written before the next frame the emulator sends
    ignore_soft_reset: bool = False  # a SoftReset does not bring the stick back


@dataclass(slots=True)
class _Parser:
    """The emulator's own frame parser (deliberately separate from the host's)."""

    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes | int]:
        """Whole raw frames (bytes) and control bytes (int) found; garbage is dropped."""
        out: list[bytes | int] = []
        for byte in data:
            if not self.buffer:
                if byte == SOF:
                    self.buffer.append(byte)
                elif byte in (ACK, NAK, CAN):
                    out.append(byte)
                continue
            self.buffer.append(byte)
            if len(self.buffer) >= 2 and len(self.buffer) == self.buffer[1] + 2:
                out.append(bytes(self.buffer))
                self.buffer.clear()
        return out


class ZWaveEmulator:
    """A simulated controller stick on a pty; see the module docstring."""

    def __init__(self, *, home_id: int = 0xE5A1C0DE, node_id: int = 1, version: str = "Z-Wave 7.18") -> None:
        self.home_id = home_id
        self.node_id = node_id
        self.version = version
        self.faults = Faults()
        #: Refuse (CAN, drop) a request that arrives while the stick is busy, instead of serving it.
        self.strict = False
        #: Requests the host sent while the stick was busy (see the module docstring), oldest first.
        self.violations: list[str] = []
        #: How long a node takes to answer RequestNodeInfo (seconds); the stick is busy meanwhile.
        #: None: the answer waits for `release_node_info()`.
        self.nif_delay: float | None = 0.002
        self._held_node_info: Callable[[], None] | None = None
        #: How long a node takes to send its reports after the SendData callback (seconds).
        self.report_delay = 0.0
        self.nodes: dict[int, SimNode] = {}
        self.sent_frames: list[Frame] = []
        self.acks_received = 0
        self.naks_received = 0
        self.resets = 0
        #: Nodes that join at the next AddNodeToNetwork(ANY), one per inclusion, in order.
        self.joining: list[SimNode] = []
        #: Node ids whose owner presses their button at the next RemoveNodeFromNetwork(ANY).
        self.leaving: list[int] = []
        # The directory is made by start() and removed by stop(), so an emulator never started leaves nothing.
        self._dir = Path(tempfile.gettempdir()) / f"zwave-emu-{os.getpid()}-{secrets.token_hex(6)}"
        self.port_path = str(self._dir / "ttyZW0")
        self._master: int | None = None
        self._slave: int | None = None
        self._parser = _Parser()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[tuple[Callable[[Frame], bool], asyncio.Future[Frame]]] = []
        self._ack_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._handles: set[asyncio.TimerHandle] = set()
        self._pending_callback: SendDataRequest | None = None
        #: What the stick is busy with (a request awaiting its callback or ApplicationUpdate), if any.
        self._busy: str | None = None
        self._inclusion: int | None = None  # session id of the open inclusion
        self._exclusion: int | None = None
        self._included: SimNode | None = None

    # --- life -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the pty and start answering."""
        self._loop = asyncio.get_running_loop()
        if not self._dir.is_dir():
            self._dir.mkdir(mode=0o700)
        self._open_pty()

    async def stop(self) -> None:
        """Close the pty and forget pending timers; safe to call twice."""
        self._close_pty()
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        pending: list[asyncio.Future[Any]] = [f for _, f in self._waiters] + [f for _, f in self._ack_waiters]
        for future in pending:
            if not future.done():
                future.cancel()
        self._waiters.clear()
        self._ack_waiters.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._parser = _Parser()
        link = Path(self.port_path)
        tmp = link.with_suffix(".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(link)
        assert self._loop is not None
        self._loop.add_reader(master, self._readable)

    def _close_pty(self) -> None:
        if self._master is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def unplug(self) -> None:
        """Pull the stick out: the host's port fails; the port path vanishes until `replug()`."""
        self._close_pty()
        with contextlib.suppress(FileNotFoundError):
            Path(self.port_path).unlink()
        self._pending_callback = None
        self._busy = None
        self._inclusion = self._exclusion = None

    def replug(self) -> None:
        """Plug the stick back in (a new pty behind the same port path); it boots fresh."""
        self._open_pty()
        self.reset()

    def reset(self) -> None:
        """The stick restarts by itself: pending work is lost, SerialApiStarted is announced."""
        self.resets += 1
        self._pending_callback = None
        self._busy = None
        self._inclusion = self._exclusion = None
        self._send(SerialApiStarted(0x00))

    @property
    def plugged(self) -> bool:
        """True while the pty exists."""
        return self._master is not None

    # --- nodes ------------------------------------------------------------------------------------

    def node(self, node_id: int) -> SimNode:
        """A node in the network (KeyError if there is none)."""
        return self.nodes[node_id]

    def add_node(self, node: SimNode) -> SimNode:
        """Put a node straight into the network (as if included earlier)."""
        node.send = functools.partial(self._from_sim_node, node)
        self.nodes[node.node_id] = node
        return node

    def include_default_household(self) -> list[SimNode]:
        """Queue the default household to join, one node per inclusion the host opens."""
        nodes = [n for n in household() if n.node_id not in self.nodes]
        self.joining.extend(nodes)
        return nodes

    def _from_sim_node(self, node: SimNode, data: bytes) -> None:
        self._from_node(node.node_id, data)

    def _from_node(self, node_id: int, data: bytes) -> None:
        if node_id in self.nodes and self.nodes[node_id].reachable:
            self._send(ApplicationCommandHandler(0x00, node_id, data))

    # --- observing the host -----------------------------------------------------------------------

    async def wait_for_frame(self, predicate: Callable[[Frame], bool], timeout: float = 5.0) -> Frame:
        """The next frame the host writes for which `predicate` is true."""
        assert self._loop is not None
        future: asyncio.Future[Frame] = self._loop.create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_acks(self, count: int, timeout: float = 5.0) -> None:
        """Return once the host has sent `count` ACKs in all (it ACKs each frame it has processed)."""
        assert self._loop is not None
        if self.acks_received >= count:
            return
        future: asyncio.Future[None] = self._loop.create_future()
        entry = (count, future)
        self._ack_waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await future
        finally:
            if entry in self._ack_waiters:
                self._ack_waiters.remove(entry)

    def _acked(self) -> None:
        for count, future in list(self._ack_waiters):
            if not future.done() and self.acks_received >= count:
                future.set_result(None)

    def frames_of(self, function: int) -> list[Frame]:
        """The frames of one function id the host has written so far."""
        return [f for f in self.sent_frames if f.function == function]

    # --- bytes ------------------------------------------------------------------------------------

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:
            return  # the host closed its side; the pty stays for the next open
        for item in self._parser.feed(data):
            if isinstance(item, int):
                if item == ACK:
                    self.acks_received += 1
                    self._acked()
                elif item == NAK:
                    self.naks_received += 1
                continue
            self._frame_received(item)

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _send(self, message: Message) -> None:
        if self.faults.garbage:
            self._write(self.faults.garbage)
            self.faults.garbage = b""
        self._write(message.to_frame().to_bytes())

    def _later(self, delay: float, func: Callable[[], None]) -> None:
        assert self._loop is not None
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            if handle is not None:
                self._handles.discard(handle)
            func()

        handle = self._loop.call_later(delay, run)
        self._handles.add(handle)

    def _frame_received(self, raw: bytes) -> None:
        faults = self.faults
        check = 0xFF
        for byte in raw[1:-1]:
            check ^= byte
        if check != raw[-1] or raw[1] < 3:
            self._write(bytes((NAK,)))
            return
        if faults.ignore:
            faults.ignore -= 1
            return
        if faults.nak:
            faults.nak -= 1
            self._write(bytes((NAK,)))
            return
        if faults.can:
            faults.can -= 1
            self._write(bytes((CAN,)))
            return
        frame = Frame(FrameType(raw[2]) if raw[2] in (0, 1) else FrameType.REQUEST, raw[3], raw[4:-1])
        if self._busy is not None and frame.function not in _ALLOWED_WHILE_BUSY:
            self.violations.append(f"function 0x{frame.function:02x} while busy with {self._busy}")
            log.warning("emulator: host sent function 0x%02x while busy with %s", frame.function, self._busy)
            if self.strict:
                self._write(bytes((CAN,)))
                return
        if faults.lost_ack:
            faults.lost_ack -= 1
        else:
            self._write(bytes((ACK,)))
        self.sent_frames.append(frame)
        if len(self.sent_frames) > 2 * SENT_FRAMES_KEPT:
            del self.sent_frames[:-SENT_FRAMES_KEPT]  # the 1 h soak: 12 KiB a minute at 10 commands/s
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(frame):
                future.set_result(frame)
        if faults.mute:
            faults.mute -= 1
            return
        self._handle(frame)

    # --- the controller ---------------------------------------------------------------------------

    def _handle(self, frame: Frame) -> None:
        function = frame.function
        try:
            request = parse_host_frame(frame)
        except Exception:
            log.warning("emulator: malformed host frame %r", frame)
            return
        if function == FunctionId.GET_CONTROLLER_VERSION:
            self._send(GetControllerVersionResponse(self.version, 0x07))
        elif function == FunctionId.GET_SERIAL_API_CAPABILITIES:
            functions = tuple(int(f) for f in FunctionId)
            self._send(GetSerialApiCapabilitiesResponse("7.18", 0x0000, 0x0004, 0x0001, functions))
        elif function == FunctionId.MEMORY_GET_ID:
            self._send(MemoryGetIdResponse(self.home_id, self.node_id))
        elif function == FunctionId.GET_SERIAL_API_INIT_DATA:
            ids = tuple(sorted({self.node_id, *self.nodes}))
            self._send(GetSerialApiInitDataResponse(0x09, 0x08, ids, 0x07, 0x00))
        elif function == FunctionId.GET_CONTROLLER_CAPABILITIES:
            self._send(
                GetControllerCapabilitiesResponse(ControllerCapability.SUC | ControllerCapability.SIS_PRESENT)
            )
        elif function == FunctionId.SOFT_RESET:
            if not self.faults.ignore_soft_reset:
                self._pending_callback = None
                self._busy = None
                self._later(0.05, self.reset)
        elif isinstance(request, SendDataRequest):
            self._send_data(request)
        elif function == FunctionId.SEND_DATA_ABORT:
            pending, self._pending_callback = self._pending_callback, None
            if pending is not None:
                self._busy = None
                self._send(SendDataCallback(pending.session_id, TransmitStatus.FAIL))
        elif isinstance(request, GetNodeProtocolInfoRequest):
            node = self.nodes.get(request.node_id)
            if node is None:
                self._send(GetNodeProtocolInfoResponse(False, False, False, 0, 0, 0))
            else:
                self._send(
                    GetNodeProtocolInfoResponse(
                        node.listening, True, False, 0x04, node.generic, node.specific
                    )
                )
        elif isinstance(request, RequestNodeInfoRequest):
            self._request_node_info(request.node_id)
        elif isinstance(request, AddNodeToNetworkRequest):
            self._add_node(request)
        elif isinstance(request, RemoveNodeFromNetworkRequest):
            self._remove_node(request)
        elif isinstance(request, IsFailedNodeRequest):
            node = self.nodes.get(request.node_id)
            self._send(IsFailedNodeResponse(node is not None and not node.reachable))
        elif isinstance(request, RemoveFailedNodeRequest):
            self._remove_failed(request)

    def _send_data(self, request: SendDataRequest) -> None:
        if self.faults.refuse_send_data:
            self.faults.refuse_send_data -= 1
            self._send(SendDataResponse(False))
            return
        self._send(SendDataResponse(True))
        if self.faults.missing_callback:
            self.faults.missing_callback -= 1
            self._pending_callback = request
            self._busy = "SendData"
            return
        node = self.nodes.get(request.node_id)
        if node is None or not node.reachable or not node.awake:
            # A sleeping or gone node never acknowledges; the stick gives up after its retries.
            failed = SendDataCallback(request.session_id, TransmitStatus.NO_ACK)
            self._busy_until(0.002, f"SendData to node {request.node_id}", failed)
            return
        replies = node.handle(request.data)
        self._send(SendDataCallback(request.session_id, TransmitStatus.OK, 1))
        for reply in replies:
            self._later(self.report_delay, lambda r=reply, n=node.node_id: self._from_node(n, r))  # type: ignore[misc]

    def _request_node_info(self, node_id: int) -> None:
        node = self.nodes.get(node_id)
        ok = node is not None and node.reachable and node.awake
        self._send(RequestNodeInfoResponse(True))
        if ok and node is not None:
            update = ApplicationUpdate(UpdateState.NODE_INFO_RECEIVED, node_id, node.info)
            delay = self.nif_delay
        else:
            update = ApplicationUpdate(UpdateState.NODE_INFO_REQ_FAILED, 0)
            delay = None if self.nif_delay is None else max(self.nif_delay, 0.01)
        # Busy until the node answers (or the stick gives up): the ApplicationUpdate ends the request.
        self._busy_until(delay, f"RequestNodeInfo to node {node_id}", update)

    def release_node_info(self) -> None:
        """Send the answer to a RequestNodeInfo held back by `nif_delay = None` (if any)."""
        held, self._held_node_info = self._held_node_info, None
        if held is not None:
            held()

    def _busy_until(self, delay: float | None, what: str, last: Message) -> None:
        """Be busy with `what` for `delay` seconds (None: until released), then send `last`, ending it."""
        self._busy = what
        resets = self.resets

        def done() -> None:
            if self.resets != resets or not self.plugged:
                return  # the stick restarted (or was unplugged) meanwhile: the answer is lost
            if self._busy == what:
                self._busy = None
            self._send(last)

        if delay is None:
            self._held_node_info = done
        else:
            self._later(delay, done)

    def _add_node(self, request: AddNodeToNetworkRequest) -> None:
        session = request.session_id
        if request.mode & 0x0F == AddRemoveMode.STOP:
            self._inclusion = None
            if session:
                included, self._included = self._included, None
                node_id = included.node_id if included is not None else 0
                self._send(AddNodeToNetworkCallback(session, AddNodeStatus.DONE, node_id))
            return
        self._inclusion = session
        self._send(AddNodeToNetworkCallback(session, AddNodeStatus.LEARN_READY))
        if self.joining:
            self._later(0.005, self._join_one)

    def _join_one(self) -> None:
        if self._inclusion is None or not self.joining:
            return
        session = self._inclusion
        node = self.joining.pop(0)
        if node.node_id in self.nodes or node.node_id == self.node_id:
            node.node_id = max([self.node_id, *self.nodes]) + 1
        node.awake = True  # a node that was just included stays awake for its interview
        self.add_node(node)
        self._included = node
        self._send(AddNodeToNetworkCallback(session, AddNodeStatus.NODE_FOUND))
        self._send(AddNodeToNetworkCallback(session, AddNodeStatus.ADDING_SLAVE, node.node_id, node.info))
        self._send(AddNodeToNetworkCallback(session, AddNodeStatus.PROTOCOL_DONE, node.node_id))

    def _remove_node(self, request: RemoveNodeFromNetworkRequest) -> None:
        session = request.session_id
        if request.mode & 0x0F == AddRemoveMode.STOP:
            self._exclusion = None
            if session:
                self._send(RemoveNodeFromNetworkCallback(session, RemoveNodeStatus.DONE))
            return
        self._exclusion = session
        self._send(RemoveNodeFromNetworkCallback(session, RemoveNodeStatus.LEARN_READY))
        if self.leaving:
            self._later(0.005, self._leave_one)

    def _leave_one(self) -> None:
        if self._exclusion is None or not self.leaving:
            return
        session = self._exclusion
        node_id = self.leaving.pop(0)
        node = self.nodes.pop(node_id, None)
        info = node.info if node is not None else None
        self._send(RemoveNodeFromNetworkCallback(session, RemoveNodeStatus.NODE_FOUND))
        self._send(RemoveNodeFromNetworkCallback(session, RemoveNodeStatus.REMOVING_SLAVE, node_id, info))
        self._send(RemoveNodeFromNetworkCallback(session, RemoveNodeStatus.DONE, node_id))
        self._exclusion = None

    def _remove_failed(self, request: RemoveFailedNodeRequest) -> None:
        node = self.nodes.get(request.node_id)
        if node is None:
            self._send(RemoveFailedNodeResponse(0x08))  # "node not found on the failed list"
            return
        self._send(RemoveFailedNodeResponse(0x00))
        if node.reachable:
            status = RemoveFailedStatus.NODE_OK
        else:
            status = RemoveFailedStatus.NODE_REMOVED
            del self.nodes[request.node_id]
        callback = RemoveFailedNodeCallback(request.session_id, status)
        self._busy_until(0.002, f"RemoveFailedNode {request.node_id}", callback)


async def serve(include_household: bool = True) -> None:
    """Run an emulator with the household already in its network; print the port; stop at EOF on stdin."""
    emulator = ZWaveEmulator()
    await emulator.start()
    if include_household:
        for node in household():
            node.awake = node.listening
            emulator.add_node(node)
    print(emulator.port_path, flush=True)
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, sys.stdin.read)
    finally:
        await emulator.stop()


if __name__ == "__main__":
    asyncio.run(serve())
