"""The events WebSocket (`GET /api/v1/events`): every hub event as one JSON text message.

Rules of this file: a client can only ever slow itself down. Each client has its own bounded bus
subscription (Overflow.CLOSE), so the bus never waits for it. A client that cannot keep up (its bus
queue overflows, the socket's write buffer passes `Limits.event_buffer_bytes`, or one send stalls longer than
SEND_TIMEOUT) is disconnected with close code 1013 ("try again later") and resynchronises by
reconnecting and re-reading `GET /api/v1/devices`. If even the close frame cannot be written in time,
the TCP connection is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Protocol

from aiohttp import WSMsgType, web

from hub_agent.lan.limits import Limits
from hub_agent.lan.metrics import LanMetrics
from hub_core import ratelog
from hub_core.bus import EventBus, Overflow, Subscription, SubscriptionClosed
from hub_core.model import HubEvent

log = logging.getLogger(__name__)

#: Subprotocol the server selects; browsers offer it next to `hub-agent.bearer.<token>`.
SUBPROTOCOL = "hub-agent"
BEARER_PREFIX = "hub-agent.bearer."
QUEUE_SIZE = 256
SEND_TIMEOUT = 5.0
CLOSE_TIMEOUT = 1.0
HEARTBEAT = 30.0
CLOSE_TOO_SLOW = 1013
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008


class EventsHost(Protocol):
    """What the events WebSocket needs from the LAN API that serves it."""

    websockets: dict[int, EventClient]
    no_clients: asyncio.Event
    metrics: LanMetrics
    #: a client costs a TLS connection, a queue and a send buffer: max_event_clients, event_buffer_bytes
    limits: Limits

    @property
    def bus(self) -> EventBus:
        """The hub's event bus."""

    def next_connection_id(self) -> int:
        """A fresh connection id for log lines."""


@dataclass(slots=True)
class EventClient:
    """One connected events WebSocket."""

    conn: int
    token_id: str
    ws: web.WebSocketResponse
    subscription: Subscription
    sender: asyncio.Task[None] | None = None
    close_code: int | None = None
    close_reason: str = ""

    def request_close(self, code: int, reason: str) -> None:
        """Ask the client's own sender task to close it (so callers never wait on a handshake)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.subscription.close()


async def serve_events(api: EventsHost, request: web.Request, token_id: str) -> web.StreamResponse:
    """Upgrade to a WebSocket for the client holding `token_id`; stream events until either side closes."""
    if len(api.websockets) >= api.limits.max_event_clients:
        raise web.HTTPServiceUnavailable(
            reason=f"too many event clients (at most {api.limits.max_event_clients})"
        )
    ws = web.WebSocketResponse(
        protocols=(SUBPROTOCOL,), heartbeat=HEARTBEAT, max_msg_size=4096, timeout=CLOSE_TIMEOUT
    )
    await ws.prepare(request)
    conn = api.next_connection_id()
    client = EventClient(conn, token_id, ws, api.bus.subscribe(f"lan-ws-{conn}", QUEUE_SIZE, Overflow.CLOSE))
    api.websockets[conn] = client
    api.no_clients.clear()
    api.metrics.ws_clients.inc()
    log.debug("ws %d: connected from %s", conn, request.remote)
    client.sender = asyncio.create_task(_send_events(api, client), name=f"lan-ws-{conn}-send")
    try:
        async for message in ws:
            # Clients have nothing to say; reading keeps pings, pongs and close frames flowing.
            if message.type is WSMsgType.ERROR:
                break
    finally:
        # Closing the subscription ends the sender, unless it is mid-way through a close handshake,
        # which is bounded by CLOSE_TIMEOUT; let that finish so the client sees the close code.
        client.subscription.close()
        await asyncio.wait({client.sender}, timeout=CLOSE_TIMEOUT + 0.5)
        client.sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await client.sender
        api.websockets.pop(conn, None)
        if not api.websockets:
            api.no_clients.set()
        api.metrics.ws_clients.dec()
        if not ws.closed:
            await _close(ws, CLOSE_GOING_AWAY, "bye", conn)
        log.debug("ws %d: gone (close code %s)", conn, ws.close_code)
    return ws


async def _send_events(api: EventsHost, client: EventClient) -> None:
    try:
        await _send_loop(api, client)
    finally:
        client.subscription.close()  # whatever ended the loop, stop queueing events for this client


async def _send_loop(api: EventsHost, client: EventClient) -> None:
    ws, subscription, conn = client.ws, client.subscription, client.conn
    transport = api_transport(ws)
    buffer_limit = api.limits.event_buffer_bytes
    while True:
        try:
            event = await subscription.get()
        except SubscriptionClosed:
            if client.close_code is not None:
                await _close(ws, client.close_code, client.close_reason, conn)
            elif subscription.overflowed:
                await _too_slow(api, ws, conn, f"event queue overflowed ({QUEUE_SIZE} events)")
            return
        if client.close_code is not None:
            await _close(ws, client.close_code, client.close_reason, conn)
            return
        if transport is not None and transport.get_write_buffer_size() > buffer_limit:
            await _too_slow(api, ws, conn, f"more than {buffer_limit} bytes unsent")
            return
        text = _encode(event)
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await ws.send_str(text)
        except TimeoutError:
            await _too_slow(api, ws, conn, f"a send stalled for {SEND_TIMEOUT:g} s")
            return
        except ConnectionError:
            return


class _LastEncoded:
    """The last event's JSON text: every client sends the same event in turn, so it is encoded once,
    not once per client (200 clients made each state change cost 200 `json.dumps`)."""

    event: object = None
    text = ""


def _encode(event: HubEvent) -> str:
    if _LastEncoded.event is not event:
        _LastEncoded.text = json.dumps(event.to_json(), separators=(",", ":"))
        _LastEncoded.event = event
    return _LastEncoded.text


def api_transport(ws: web.WebSocketResponse) -> asyncio.Transport | None:
    """The connection's transport, to read how much is still unsent."""
    writer = ws._writer  # aiohttp keeps it private; it is the only way to see the send buffer
    transport = getattr(writer, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _too_slow(api: EventsHost, ws: web.WebSocketResponse, conn: int, why: str) -> None:
    ratelog.log(
        log, "lan.ws_too_slow", logging.WARNING, "ws %d: client too slow (%s); disconnecting it", conn, why
    )
    api.metrics.ws_disconnects.labels(reason="too_slow").inc()
    await _close(ws, CLOSE_TOO_SLOW, "too slow; reconnect and reload the device list", conn)


async def _close(ws: web.WebSocketResponse, code: int, reason: str, conn: int) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code=code, message=reason.encode("utf-8"))
    except (TimeoutError, ConnectionError):
        # The peer does not even take the close frame: drop the TCP connection.
        log.debug("ws %d: close handshake did not finish; aborting the connection", conn)
        transport = api_transport(ws)
        if transport is not None:
            transport.abort()
