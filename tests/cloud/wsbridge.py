"""A TLS WebSocket front for the test mosquitto, so the hub's `wss://` transport meets a real broker.

Debian bookworm's mosquitto 2.0.11 cannot serve WebSockets (its listener starts, then the broker exits
with "Unable to start any listening sockets"), so this bridge stands where a broker's WebSocket listener
or a TLS-terminating load balancer would: a `websockets` server on loopback with the dev CA's server
certificate that requires a client certificate from the same CA (mutual TLS, like the broker), accepts
only the subprotocol `mqtt`, and relays binary frames to and from the broker's MQTT/TLS listener. Towards
the broker it presents a certificate with the *same CN* the client proved (issued by the test CA), so
mosquitto's `use_identity_as_username` and its ACL `hubs/%u/#` still decide what the hub may do.
Every accepted connection's request path and subprotocol are recorded for the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from mosquitto import Broker, free_port
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from hub_agent.cloud.devcloud import DevPki

log = logging.getLogger(__name__)

SUBPROTOCOL = "mqtt"
#: Largest WebSocket message relayed (the hub's MAX_PACKET is far below; a bigger frame is refused).
MAX_FRAME = 16 * 1024 * 1024
#: Bytes read from the broker per WebSocket message sent to the client.
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Seen:
    """One accepted WebSocket connection: what the client asked for and who it proved to be."""

    path: str
    subprotocol: str | None
    identity: str


@dataclass
class Bridge:
    """A running bridge: its wss:// URL (with `path`) and every connection it accepted."""

    port: int
    path: str
    seen: list[Seen] = field(default_factory=list)
    open: set[ServerConnection] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # request paths answered 404
    largest_down: int = 0  # the largest frame sent to a client (broker bytes read at once)

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}{self.path}"

    async def drop(self) -> None:
        """Close every relayed connection (a WebSocket close, as a load balancer's restart does)."""
        for connection in list(self.open):
            await connection.close(1001, "going away")


def _server_context(paths: DevPki, server: DevPki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(server.server_cert, server.server_key)
    context.load_verify_locations(cafile=paths.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no handshake
    return context


def _common_name(connection: ServerConnection) -> str:
    ssl_object = connection.transport.get_extra_info("ssl_object")
    peer = ssl_object.getpeercert() if ssl_object is not None else None
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    raise ssl.SSLError("the client certificate has no CN")


@contextlib.asynccontextmanager
async def bridge_for(
    paths: DevPki,
    broker: Broker,
    identity: Callable[[str], tuple[Path, Path]],
    *,
    path: str = "/mqtt",
    server: DevPki | None = None,
) -> AsyncIterator[Bridge]:
    """Serve wss://127.0.0.1:PORT{path} relaying to `broker`'s TLS listener as the client's own CN.

    `identity(cn)` gives the certificate and key the bridge presents to the broker for that CN;
    `server` (default `paths`) gives the bridge's own certificate (another PKI makes it an impostor).
    """
    bridge = Bridge(free_port(), path)
    identities: dict[str, ssl.SSLContext] = {}

    def upstream_context(cn: str) -> ssl.SSLContext:
        if cn not in identities:
            context = ssl.create_default_context(cafile=str(paths.ca_cert))
            cert, key = identity(cn)
            context.load_cert_chain(cert, key)
            identities[cn] = context
        return identities[cn]

    async def relay(connection: ServerConnection) -> None:
        cn = _common_name(connection)
        request_path = connection.request.path if connection.request is not None else ""
        bridge.seen.append(Seen(request_path, connection.subprotocol, cn))
        if connection.subprotocol != SUBPROTOCOL:
            await connection.close(1002, "subprotocol mqtt required")
            return
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port, ssl=upstream_context(cn))
        bridge.open.add(connection)
        try:
            async with asyncio.TaskGroup() as group:
                up = group.create_task(_client_to_broker(connection, writer))
                down = group.create_task(_broker_to_client(reader, connection, bridge))
                await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
                up.cancel()
                down.cancel()
        finally:
            bridge.open.discard(connection)
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
            await connection.close()

    def only_our_path(connection: ServerConnection, request: Request) -> Response | None:
        """Like a gateway, serve MQTT on one path only: anything else is 404 before any upgrade."""
        if request.path != bridge.path:
            bridge.refused.append(request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "no MQTT here\n")
        return None

    async with serve(
        relay,
        "127.0.0.1",
        bridge.port,
        process_request=only_our_path,
        ssl=_server_context(paths, server or paths),
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        max_size=MAX_FRAME,
        compression=None,
    ) as listener:
        try:
            yield bridge
        finally:
            listener.close()
            await listener.wait_closed()


async def _client_to_broker(connection: ServerConnection, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for message in connection:
            if isinstance(message, str):
                raise ValueError("MQTT over WebSocket is binary frames only")
            writer.write(message)
            await writer.drain()


async def _broker_to_client(
    reader: asyncio.StreamReader, connection: ServerConnection, bridge: Bridge
) -> None:
    with contextlib.suppress(ConnectionClosed):
        while data := await reader.read(CHUNK):
            bridge.largest_down = max(bridge.largest_down, len(data))
            await connection.send(data)
