"""The LAN server's resource limits and the gate that enforces them on every TCP connection.

Rules of this file: every connection passes `ConnectionGate` before aiohttp sees a byte. The gate
admits it under the total and per-client limits (the total is the fd budget: it stays well below the
unit's LimitNOFILE, so accept() never fails with EMFILE), bounds TLS handshakes in flight and their
time, and closes a connection that has not delivered a complete request head within
`header_timeout` (slowloris) — at connect time and again after each answer (an idle keep-alive).
A refusal costs one line of log per cause and minute (`hub_core.ratelog`) and a counter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import ssl
from asyncio import sslproto
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub_core import ratelog
from hub_core.tasks import TaskGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """Every LAN limit in one place; `[lan]` can change the ones a household may outgrow."""

    #: Longest request line and longest header field; at most `max_headers` header fields.
    max_header_bytes: int = 8 * 1024
    max_headers: int = 64
    #: Seconds a connection may take to deliver a request head (and a body), or stay idle between requests.
    header_timeout: float = 10.0
    #: Open TCP connections in total (the fd budget, below LimitNOFILE=4096) and from one address.
    max_connections: int = 1024
    max_connections_per_client: int = 64
    #: TLS handshakes in progress at once, and how long one may take.
    max_handshakes: int = 64
    handshake_timeout: float = 10.0
    #: Event WebSockets at once, and the bytes one may leave unsent before it is dropped as too slow.
    max_event_clients: int = 64
    event_buffer_bytes: int = 64 * 1024
    #: Commands one token may have waiting for a radio at once.
    max_commands_in_flight: int = 16


#: A minimal answer for a plain-HTTP connection refused before any parsing.
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Retry-After: 5\r\nContent-Length: %d\r\n\r\n%s"
)


def _busy(message: str) -> bytes:
    body = json.dumps({"error": "unavailable", "message": message}).encode()
    return _BUSY % (len(body), body)


class ConnectionGate:
    """A protocol factory for `loop.create_server`: admits, counts and times connections."""

    def __init__(
        self,
        limits: Limits,
        inner: Callable[[], asyncio.Protocol],
        context: ssl.SSLContext | None,
        *,
        refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._limits = limits
        self.inner = inner
        self.context = context
        self.refused = refused
        self.total = 0
        self.handshaking = 0
        self.per_client: dict[str, int] = {}
        #: id(aiohttp's protocol) -> its connection, for the middleware's request_started/finished
        self.by_handler: dict[int, GatedConnection] = {}
        self.handshake_slots = asyncio.Semaphore(limits.max_handshakes)
        self.tasks = TaskGroup("lan-tls", limit=limits.max_connections + 16)

    @property
    def limits(self) -> Limits:
        """The limits in force."""
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        """New limits for new connections (the handshake slots are remade; tests change limits live)."""
        self._limits = limits
        self.handshake_slots = asyncio.Semaphore(limits.max_handshakes)

    def __call__(self) -> GatedConnection:
        return GatedConnection(self)

    async def close(self) -> None:
        """Cancel handshakes still in progress (at shutdown)."""
        await self.tasks.close()

    # --- what the HTTP middleware tells the gate ----------------------------------------------

    def request_started(self, handler: object) -> None:
        """A request head arrived on `handler`'s connection: stop its header clock."""
        conn = self.by_handler.get(id(handler))
        if conn is not None:
            conn.disarm()

    def request_finished(self, handler: object) -> None:
        """The answer is out: the connection has `header_timeout` to send the next request head."""
        conn = self.by_handler.get(id(handler))
        if conn is not None:
            conn.arm()

    # --- bookkeeping --------------------------------------------------------------------------

    def admit(self, peer: str) -> str | None:
        """Count a new connection from `peer`, or return why it is refused."""
        limits = self.limits
        if self.total >= limits.max_connections:
            return "connections"
        if self.per_client.get(peer, 0) >= limits.max_connections_per_client:
            return "client_connections"
        self.total += 1
        self.per_client[peer] = self.per_client.get(peer, 0) + 1
        return None

    def release(self, peer: str) -> None:
        """A counted connection from `peer` is gone."""
        self.total -= 1
        left = self.per_client.get(peer, 1) - 1
        if left > 0:
            self.per_client[peer] = left
        else:
            self.per_client.pop(peer, None)

    def refuse(self, reason: str, peer: str) -> None:
        """Count and (rate-limited) log one refused connection."""
        self.refused(reason)
        ratelog.log(
            log,
            f"lan.refused.{reason}",
            logging.WARNING,
            "LAN API: refused a connection from %s (%s limit)",
            peer,
            reason,
        )


class GatedConnection(asyncio.Protocol):
    """One TCP connection: refused, or handed (after TLS, if any) to aiohttp's protocol."""

    def __init__(self, gate: ConnectionGate) -> None:
        self.gate = gate
        self.peer = "?"
        self.counted = False
        self.transport: asyncio.Transport | None = None
        self.inner: asyncio.Protocol | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        gate = self.gate
        peername: Any = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if isinstance(peername, tuple) and peername else "?"
        reason = gate.admit(self.peer)
        if reason is not None:
            gate.refuse(reason, self.peer)
            if gate.context is None:
                transport.write(
                    _busy(f"too many connections ({reason.replace('_', ' ')} limit); retry later")
                )
                transport.close()
            else:
                transport.abort()  # before a handshake there is no way to say why; and it costs nothing
            return
        self.counted = True
        self.transport = transport
        if gate.context is None:
            self._attach(transport)
            return
        # Nothing may be read before start_tls takes over the transport, or the ClientHello is lost.
        transport.pause_reading()
        self.arm()  # waiting for a handshake slot and the handshake itself count against the header time
        gate.tasks.spawn(self._handshake(transport, gate.context), f"handshake {self.peer}")

    async def _handshake(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        gate = self.gate
        secured: asyncio.Transport | None = None
        try:
            # At most max_handshakes TLS states exist at once; the others wait, paused, costing a socket.
            async with gate.handshake_slots:
                if not transport.is_closing():
                    gate.handshaking += 1
                    try:
                        secured = await _start_tls(
                            loop, transport, self, context, gate.limits.handshake_timeout
                        )
                    finally:
                        gate.handshaking -= 1
        except (OSError, TimeoutError, ssl.SSLError, ConnectionError, EOFError):
            secured = None
        except asyncio.CancelledError:
            transport.abort()
            self._gone()
            raise
        except Exception:  # a bug in one handshake ends that connection, and cannot flood the log
            ratelog.log(
                log,
                "lan.handshake",
                logging.ERROR,
                "LAN API: TLS set-up from %s failed",
                self.peer,
                exc_info=True,
            )
            secured = None
        if secured is None:
            # A failed or timed-out handshake: start_tls never tells the app protocol, so count it here.
            transport.abort()
            self._gone()
            return
        self.transport = secured
        self._attach(secured)

    def _attach(self, transport: asyncio.Transport) -> None:
        inner = self.gate.inner()
        self.inner = inner
        self.gate.by_handler[id(inner)] = self
        inner.connection_made(transport)
        self.arm()
        early, self._early = self._early, []
        for data in early:
            inner.data_received(data)

    # --- the header clock ---------------------------------------------------------------------

    def arm(self) -> None:
        """(Re)start the clock for the next request head."""
        self.disarm()
        if self.transport is not None and not self.transport.is_closing():
            self._timer = asyncio.get_running_loop().call_later(
                self.gate.limits.header_timeout, self._expired
            )

    def disarm(self) -> None:
        """Stop the clock (a request is being handled)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        self.gate.refused("header_timeout")
        ratelog.log(
            log,
            "lan.header_timeout",
            logging.INFO,
            "LAN API: closed a connection from %s: no complete request within %g s",
            self.peer,
            self.gate.limits.header_timeout,
        )
        if self.transport is not None:
            self.transport.abort()

    # --- forwarding to aiohttp ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
        else:
            # The first request can come with the handshake's last bytes, before start_tls returns.
            self._early.append(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.inner is not None:
            self.gate.by_handler.pop(id(self.inner), None)
            self.inner.connection_lost(exc)
        self._gone()

    def _gone(self) -> None:
        self.disarm()
        if self.counted:
            self.counted = False
            self.gate.release(self.peer)


class _LeanSSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol with a read buffer of one TLS record instead of 256 KiB.

    asyncio allocates `max_size` bytes per connection up front. At 256 KiB that is above glibc's
    mmap threshold, which then rises, so later buffers come from the heap and stay there after their
    connections close: ~320 KB per idle unauthenticated connection that never came back."""

    max_size = 16 * 1024 + 256  # a TLS record carries at most 16 KiB of plaintext


async def _start_tls(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.Transport,
    protocol: asyncio.Protocol,
    context: ssl.SSLContext,
    timeout: float,
) -> asyncio.Transport:
    """`loop.start_tls(..., server_side=True)` with `_LeanSSLProtocol` (the same steps as asyncio's)."""
    waiter: asyncio.Future[None] = loop.create_future()
    secure = _LeanSSLProtocol(
        loop,
        protocol,
        context,
        waiter,
        server_side=True,
        ssl_handshake_timeout=math.ceil(timeout),
        call_connection_made=False,
    )
    transport.pause_reading()  # so data_received cannot come before connection_made
    transport.set_protocol(secure)
    made = loop.call_soon(secure.connection_made, transport)
    resumed = loop.call_soon(transport.resume_reading)
    try:
        await waiter
    except BaseException:
        transport.close()
        made.cancel()
        resumed.cancel()
        raise
    return secure._app_transport  # what loop.start_tls returns, too


class AiohttpLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, tamed: a malformed request (which arrives before any authentication)
    is one rate-limited INFO line naming the problem, never an ERROR with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("hub_agent.lan.http"), {})

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level < logging.WARNING:
            return  # aiohttp's debug chatter (bad method from a port scanner, ...) is not ours to keep
        exc_info = kwargs.get("exc_info")
        problem = exc_info if isinstance(exc_info, BaseException) else None
        why = " ".join(str(problem).split())[:200] if problem is not None else ""
        text = str(msg) % args if args else str(msg)
        ratelog.log(
            self.logger,
            "lan.bad_request",
            logging.INFO,
            "LAN API: %s%s",
            text,
            f": {type(problem).__name__}: {why}" if problem is not None else "",
        )
