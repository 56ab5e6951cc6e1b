"""The asyncio layer of the Serial API host: moves bytes, owns the timers, runs one transaction at a time.

Rules of this file: protocol decisions live in `frame.py` (bytes <-> frames) and `transaction.py`
(what a transaction does next); this module only performs their actions. Requests wait for their turn
at the `LinkGate`, in the link scheduler's order (priority, then arrival), so exactly one is
outstanding (INS12350 6.1) until it is over: until its callback or, for a
request that ends with an unsolicited frame (RequestNodeInfo's ApplicationUpdate), that frame. Such a
request whose caller gives up runs on without it, and the next request waits for it to end.
Frames that are not the current transaction's are parsed and handed to `on_message` in arrival
order, also while a transaction is in flight.
A lost link fails the transaction in flight and every later request with SerialClosed; reconnecting
is the owner's job (a new Driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import serial

from hub_core.errors import ProtocolError
from radios.zwave import transaction as tx
from radios.zwave.errors import ControllerReset, SerialClosed, TransactionFailed
from radios.zwave.frame import (
    Ack,
    BadFrame,
    Can,
    Frame,
    FrameTimedOut,
    Garbage,
    Nak,
    SerialProtocol,
)
from radios.zwave.gate import LinkGate
from radios.zwave.messages import (
    FunctionId,
    Message,
    Request,
    SendDataAbortRequest,
    SerialApiStarted,
    UnknownMessage,
    parse_frame,
)
from radios.zwave.scheduler import Job, Priority

log = logging.getLogger(__name__)
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

MessageHandler = Callable[[Message | UnknownMessage], None]
LostHandler = Callable[[Exception], None]


@dataclass(frozen=True, slots=True)
class Result:
    """What a transaction brought back: the parsed response and callback, where expected."""

    response: Message | UnknownMessage | None
    callback: Message | UnknownMessage | None


class _Link:
    """A pyserial port read through the event loop (fd) or, failing that, a reader thread."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop, on_data: Callable[[bytes], None]) -> None:
        self.url = url
        self._loop = loop
        self._on_data = on_data
        self._on_error: Callable[[Exception], None] = lambda exc: None
        self._port: Any = None
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    def open(self, on_error: Callable[[Exception], None]) -> None:
        """Open the port (blocking; call from a thread) without starting to read."""
        self._on_error = on_error
        port = serial.serial_for_url(self.url, baudrate=115200, timeout=0, do_not_open=True)
        port.open()
        self._port = port
        sock = getattr(port, "_socket", None)
        if isinstance(sock, socket.socket):
            # ser2net and the zwave-js mock: one frame per TCP segment, sent at once.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._fd = port.fileno()
        except (AttributeError, NotImplementedError, OSError, ValueError, serial.SerialException):
            self._fd = None

    def start_reading(self) -> None:
        """Deliver received bytes to `on_data` on the loop from now on."""
        if self._fd is not None:
            os.set_blocking(self._fd, False)
            self._loop.add_reader(self._fd, self._readable)
        else:
            self._port.timeout = 0.1
            self._thread = threading.Thread(target=self._read_thread, name=f"zwave-read {self.url}")
            self._thread.daemon = True
            self._thread.start()

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._failed(SerialClosed(f"serial port {self.url} failed: {exc}"))
            return
        if not data:
            self._failed(SerialClosed(f"serial port {self.url} closed by the other side"))
            return
        self._on_data(data)

    def _read_thread(self) -> None:
        while not self._closing:
            try:
                data = self._port.read(4096)
            except Exception as exc:  # pyserial raises assorted types for a vanished port
                if not self._closing:
                    err = SerialClosed(f"serial port {self.url} failed: {exc}")
                    self._loop.call_soon_threadsafe(self._failed, err)
                return
            if data:
                self._loop.call_soon_threadsafe(self._on_data, bytes(data))

    def _failed(self, exc: Exception) -> None:
        if not self._closing:
            self.close()
            self._on_error(exc)

    def write(self, data: bytes) -> None:
        """Write `data` at once; raise SerialClosed if the port is gone."""
        if self._closing or self._port is None:
            raise SerialClosed(f"serial port {self.url} is closed")
        try:
            if self._fd is not None:
                try:
                    written = os.write(self._fd, data)
                except BlockingIOError:
                    written = 0
                if written < len(data):
                    # The OS buffer is full (a slow ser2net peer): let pyserial wait for room.
                    self._port.write(data[written:])
            else:
                self._port.write(data)
        except (OSError, serial.SerialException) as exc:
            raise SerialClosed(f"serial port {self.url} failed on write: {exc}") from exc

    def close(self) -> None:
        """Stop reading and close the port; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        if self._fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
        if self._port is not None:
            with contextlib.suppress(Exception):
                self._port.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


class Driver:
    """One open Serial API link: send requests (one at a time), receive unsolicited messages."""

    def __init__(
        self,
        url: str,
        *,
        on_message: MessageHandler,
        on_lost: LostHandler | None = None,
        timeouts: tx.Timeouts = tx.DEFAULT_TIMEOUTS,
        name: str = "zwave",
    ) -> None:
        self.url = url
        self.timeouts = timeouts
        self.name = name
        self._on_message = on_message
        self._on_lost = on_lost
        self._protocol = SerialProtocol()
        self._link: _Link | None = None
        self._gate = LinkGate()
        self._callback_id = 0
        self._tx: tx.State | None = None
        self._tx_done: asyncio.Future[None] | None = None
        #: Ends when a transaction whose caller gave up (see `_linger`) is over.
        self._lingering: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._frame_timer: asyncio.TimerHandle | None = None
        self._closed_error: Exception | None = SerialClosed(f"{url} is not open")
        self.frames_in = 0
        self.frames_out = 0
        self.garbage_bytes = 0

    @property
    def is_open(self) -> bool:
        """True while the link is up."""
        return self._closed_error is None

    async def open(self) -> None:
        """Open the port and start receiving; raise SerialClosed if it cannot be opened."""
        loop = asyncio.get_running_loop()
        link = _Link(self.url, loop, self._data_received)
        try:
            await asyncio.to_thread(link.open, self._link_failed)
        except (OSError, ValueError, serial.SerialException) as exc:
            raise SerialClosed(f"cannot open {self.url}: {exc}") from exc
        self._link = link
        self._protocol = SerialProtocol()
        self._closed_error = None
        link.start_reading()
        # INS12350 6.1: a host that (re)starts sends NAK so a stick stuck mid-frame starts over.
        link.write(b"\x15")
        log.info("%s: opened %s", self.name, self.url)

    async def close(self) -> None:
        """Close the port and fail what is pending; safe to call twice."""
        self._shutdown(SerialClosed(f"{self.url} was closed"))

    # --- requests --------------------------------------------------------------------------------

    async def request(
        self,
        request: Request,
        *,
        timeouts: tx.Timeouts | None = None,
        priority: Priority = Priority.CONTROLLER,
        key: Hashable | None = None,
    ) -> Result:
        """Run one transaction in its turn (`priority`; `key` coalesces or merges, see scheduler.py);
        return its response/callback or raise TransactionFailed/SerialClosed."""
        job = Job(priority, getattr(request, "node_id", None), key, type(request).__name__)
        return await self._gate.run(job, lambda: self._transact(request, timeouts))

    async def _transact(self, request: Request, timeouts: tx.Timeouts | None) -> Result:
        if self._lingering is not None:
            # asyncio.wait, not await: cancelling this request must not cancel that future.
            await asyncio.wait({self._lingering})
        if self._closed_error is not None:
            raise SerialClosed(str(self._closed_error))
        if request.wants_callback:
            self._callback_id = tx.next_callback_id(self._callback_id)
            request = request.with_callback_id(self._callback_id)
        machine = tx.Request(
            request.to_frame(),
            expects_response=request.expects_response,
            callback_id=request.callback_id,
            zero_is_accepted=request.zero_is_accepted,
            completion=request.completion,
        )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tx_done = done
        state, actions = tx.start(machine, timeouts or self.timeouts)
        self._tx = state
        lingering = False
        try:
            self._perform(actions)
            await done
        except asyncio.CancelledError:
            phase = self._tx.phase if self._tx is not None else None
            if phase is tx.Phase.WAIT_CALLBACK and request.function == FunctionId.SEND_DATA:
                # Nobody waits for this callback any more; free the stick for the next request.
                self.write_unacknowledged(SendDataAbortRequest())
            elif phase in (tx.Phase.WAIT_RESPONSE, tx.Phase.WAIT_CALLBACK) and machine.completion:
                # Nothing aborts it: the stick stays busy until the completion frame comes
                # (or the timer gives up), so the transaction runs on and the next one waits.
                self._linger()
                lingering = True
            raise
        finally:
            state = self._tx
            if not lingering:
                self._tx = None
                self._tx_done = None
                self._cancel_timer()
        assert state is not None
        if state.phase is tx.Phase.FAILED:
            failure = state.failure or tx.Failure.NO_ACK
            raise TransactionFailed(
                f"{type(request).__name__}: {failure.value} after {state.attempts} attempt(s)",
                function=request.function,
                reason=failure.name,
            )
        return Result(
            self._parse(state.response) if state.response is not None else None,
            self._parse(state.callback) if state.callback is not None else None,
        )

    def _linger(self) -> None:
        """Let the transaction in flight run on without its caller, until it finishes or fails."""
        lingering: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tx_done = self._lingering = lingering

        def over(future: asyncio.Future[None]) -> None:
            if self._tx_done is future:
                self._tx = None
                self._tx_done = None
                self._cancel_timer()
            if self._lingering is future:
                self._lingering = None
            if not future.cancelled():
                future.exception()  # nobody wants the outcome of an abandoned request

        lingering.add_done_callback(over)

    def write_unacknowledged(self, request: Request) -> None:
        """Write a request outside the queue, for the emergency SendDataAbort of a jammed stick."""
        if self._link is not None and self._closed_error is None:
            self._write(request.to_frame().to_bytes())

    @property
    def gate(self) -> LinkGate:
        """Where requests wait for the link (its scheduler says who is next)."""
        return self._gate

    @property
    def busy_with(self) -> int | None:
        """The function id of the transaction in flight, if any."""
        return self._tx.request.frame.function if self._tx is not None else None

    def _parse(self, frame: Frame) -> Message | UnknownMessage:
        try:
            return parse_frame(frame)
        except ProtocolError as exc:
            log.warning("%s: malformed %r: %s", self.name, frame, exc)
            return UnknownMessage(frame)

    def _perform(self, actions: list[tx.Action]) -> None:
        for action in actions:
            if isinstance(action, tx.Write):
                self.frames_out += 1
                self._write(action.frame.to_bytes())
            elif isinstance(action, tx.SetTimer):
                self._cancel_timer()
                self._timer = asyncio.get_running_loop().call_later(action.seconds, self._timer_fired)
            elif isinstance(action, tx.CancelTimer):
                self._cancel_timer()
            elif isinstance(action, tx.Unsolicited):
                self._deliver(action.frame)
            elif isinstance(action, tx.Finished) and self._tx_done is not None and not self._tx_done.done():
                self._tx_done.set_result(None)

    def _step(self, event: tx.Input) -> None:
        if self._tx is None:
            if isinstance(event, tx.FrameIn):
                self._deliver(event.frame)
            return
        self._tx, actions = tx.step(self._tx, event)
        self._perform(actions)

    def _timer_fired(self) -> None:
        self._timer = None
        self._step(tx.TimerFired())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- bytes in and out ------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._link is None:
            return
        if log.isEnabledFor(TRACE):
            log.log(TRACE, "%s: >> %s", self.name, data.hex())
        try:
            self._link.write(data)
        except SerialClosed as exc:
            self._link_failed(exc)

    def _data_received(self, data: bytes) -> None:
        if log.isEnabledFor(TRACE):
            log.log(TRACE, "%s: << %s", self.name, data.hex())
        protocol = self._protocol
        now = time.monotonic()
        protocol.receive_data(data, now)
        # ACKs first, each as its own write, before acting on what arrived (INS12350 5.4.1).
        for chunk in protocol.data_to_send():
            self._write(chunk)
        for event in protocol.events_received():
            if isinstance(event, Frame):
                self.frames_in += 1
                self._step(tx.FrameIn(event))
            elif isinstance(event, Ack):
                self._step(tx.AckIn())
            elif isinstance(event, Nak):
                self._step(tx.NakIn())
            elif isinstance(event, Can):
                self._step(tx.CanIn())
            elif isinstance(event, Garbage):
                self.garbage_bytes += len(event.data)
                log.warning(
                    "%s: skipped %d garbage byte(s): %s", self.name, len(event.data), event.data.hex()
                )
            elif isinstance(event, BadFrame):
                log.warning("%s: NAKed a bad frame (%s): %s", self.name, event.reason, event.data.hex())
            elif isinstance(event, FrameTimedOut):
                log.warning("%s: dropped an incomplete frame: %s", self.name, event.data.hex())
        self._arm_frame_timer()

    def _arm_frame_timer(self) -> None:
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        deadline = self._protocol.deadline()
        if deadline is not None:
            delay = max(0.0, deadline - time.monotonic()) + 0.001
            self._frame_timer = asyncio.get_running_loop().call_later(delay, self._frame_timeout)

    def _frame_timeout(self) -> None:
        self._frame_timer = None
        self._data_received(b"")

    def _deliver(self, frame: Frame) -> None:
        message = self._parse(frame)
        if isinstance(message, SerialApiStarted) and self._tx is not None:
            # The stick restarted: whatever it was doing for us is gone.
            self._fail_transaction(ControllerReset("the Z-Wave controller restarted"))
        try:
            self._on_message(message)
        except Exception:
            log.exception("%s: handler failed on %r", self.name, message)

    # --- failure ---------------------------------------------------------------------------------

    def _fail_transaction(self, exc: Exception) -> None:
        self._cancel_timer()
        done = self._tx_done
        if done is not None and not done.done():
            done.set_exception(exc)

    def _link_failed(self, exc: Exception) -> None:
        if self._closed_error is not None:
            return
        log.warning("%s: link lost: %s", self.name, exc)
        self._shutdown(exc)
        if self._on_lost is not None:
            self._on_lost(exc)

    def _shutdown(self, exc: Exception) -> None:
        first = self._closed_error is None
        self._closed_error = exc
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        self._fail_transaction(exc if isinstance(exc, SerialClosed) else SerialClosed(str(exc)))
        if self._link is not None:
            self._link.close()
            self._link = None
        if first:
            log.info("%s: closed %s", self.name, self.url)
