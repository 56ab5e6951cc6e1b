"""The cloud link over MQTT 5 (CONTRACT section 9.5): framing and acknowledgements, nothing else.

Rules of this file: everything the WebSocket link promises comes from the same core (outbox,
request desk, certificate keeper, back-off in link.py); this file only maps it onto MQTT. One
session per hub: client id = hub id, clean start false with SESSION_EXPIRY, QoS 1 everywhere,
mutual TLS (the broker takes the hub's identity from its certificate, so an ACL `hubs/%u/#` keeps
each hub to its own topics). An event counts as delivered when the broker's PUBACK says success
(a failure reason code such as 0x87 "not authorised" is not an acknowledgement); the outbox is
acknowledged up to the longest run of delivered events, in order. Incoming requests are
acknowledged (PUBACK) only after the request desk took them, so the broker's receive maximum is
real flow control. paho is reached through aiomqtt's `_client` for what aiomqtt does not expose
(PUBACK reason codes, manual acks, how the socket is opened); aiomqtt and paho are pinned in
constraints.txt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt import client as mqtt_client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub_agent.cloud.outbox import Outbox
from hub_agent.cloud.protocol import (
    MAX_MESSAGE_BYTES,
    ErrorMessage,
    HubMessage,
    MessageType,
    decode_from_cloud,
    encode,
    encode_event,
    reply_id_of,
)
from hub_agent.cloud.renewal import CertificateKeeper
from hub_agent.cloud.requests import Request, RequestDesk
from hub_core import ratelog
from hub_core.errors import HubError, ProtocolError
from hub_core.model import JSONObject

log = logging.getLogger(__name__)

#: How long the broker keeps the hub's session (subscriptions, queued requests) while it is away.
SESSION_EXPIRY = 24 * 3600
#: Requests the broker may have in flight to the hub before it waits for our PUBACKs.
RECEIVE_MAXIMUM = 32
#: Events published and not yet acknowledged by the broker.
INFLIGHT = 256
#: Largest packet the hub accepts from the broker (the broker refuses to send bigger ones).
MAX_PACKET = 4 * MAX_MESSAGE_BYTES
#: Seconds to wait for CONNACK, SUBACK and PUBACKs before the connection is judged dead.
TIMEOUT = 15.0
#: CONNACK/SUBACK reason codes that mean "who you are is not welcome": retrying soon is pointless.
REFUSED_CODES = frozenset({0x85, 0x86, 0x87, 0x8A, 0x8C})

#: request topic (below hubs/{id}/) -> the message type its payload must be
REQUEST_TOPICS: dict[str, MessageType] = {
    "cmd/req": MessageType.COMMAND,
    "rules/put": MessageType.RULES_PUT,
    "rules/delete": MessageType.RULES_DELETE,
    "snapshot/req": MessageType.SNAPSHOT_REQUEST,
    "ota": MessageType.OTA_AVAILABLE,
    "cert": MessageType.CERTIFICATE,
}
#: answer type -> its topic (below hubs/{id}/) when the request named no response topic
ANSWER_TOPICS: dict[MessageType, str] = {
    MessageType.COMMAND_RESULT: "cmd/res",
    MessageType.RULES_RESULT: "rules/res",
    MessageType.STATE_SNAPSHOT: "snapshot",
    MessageType.CERT_STATUS: "cert/status",
    MessageType.CERT_RENEWAL: "cert/renewal",
    MessageType.ERROR: "errors",
}


class BrokerRefused(HubError):
    """The broker refused the hub's identity or its own topics (CONNACK/SUBACK/PUBACK reason code)."""

    def __init__(self, what: str, code: int, reason: str) -> None:
        self.code = code
        super().__init__(f"the broker refused {what}: {reason} (reason code 0x{code:02X})")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the broker is: host, port, and WebSocket path (None for plain MQTT over TLS)."""

    host: str
    port: int
    path: str | None

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """`mqtts://host[:8883]` or `wss://host[:443]/path[?query]`; ValueError otherwise."""
        parts = urlsplit(url)
        if parts.scheme == "mqtts" and parts.hostname:
            return cls(parts.hostname, parts.port or 8883, None)
        if parts.scheme == "wss" and parts.hostname:
            # The query belongs to the request line too: brokers behind gateways route or authorise on it.
            query = f"?{parts.query}" if parts.query else ""
            return cls(parts.hostname, parts.port or 443, (parts.path or "/") + query)
        raise ValueError(f"an MQTT cloud URL is mqtts://host:port or wss://host:port/path, not {url!r}")


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """Where an answer goes: the request's response topic and correlation data."""

    topic: str
    correlation: bytes | None


class Topics:
    """The hub's topic names (CONTRACT 9.5)."""

    def __init__(self, hub_id: str) -> None:
        self.base = f"hubs/{hub_id}/"
        self.state = self.base + "state"
        self.events = self.base + "events"
        self.requests = {self.base + suffix: kind for suffix, kind in REQUEST_TOPICS.items()}

    def answer(self, message: HubMessage, reply: object) -> tuple[str, Properties | None]:
        """The topic and properties for an answer: the response topic if the request gave a usable one."""
        if isinstance(reply, ReplyTo):
            properties = _properties(PacketTypes.PUBLISH)
            if reply.correlation is not None:
                properties.CorrelationData = reply.correlation
            return reply.topic, properties
        return self.base + ANSWER_TOPICS.get(message.type, "errors"), None

    def reply_of(self, properties: Any) -> ReplyTo | None:
        """The response topic of a request, if it is one of this hub's own (never a wildcard)."""
        topic = getattr(properties, "ResponseTopic", None)
        if not isinstance(topic, str) or not topic.startswith(self.base) or "+" in topic or "#" in topic:
            return None
        correlation = getattr(properties, "CorrelationData", None)
        return ReplyTo(topic, bytes(correlation) if correlation is not None else None)


class MqttHost(Protocol):
    """What an MQTT connection needs from the link (link.py's CloudLink provides it)."""

    hub_id: str
    outbox: Outbox
    requests: RequestDesk
    certificate: CertificateKeeper
    connections: int

    def hello_state(self) -> JSONObject:
        """The retained `state` payload while connected."""

    def opened(self, acked_seq: int) -> None:
        """Bookkeeping once the session is up (state, counters, certificate confirmation)."""

    def snapshot_message(self) -> HubMessage:
        """A state_snapshot of every device."""

    async def watch_certificate(self) -> None:
        """Ask for a renewal when the certificate nears expiry (runs for the whole session)."""


class MqttConnection:
    """One MQTT session from CONNECT to disconnect; `run` returns or raises when it ends."""

    def __init__(self, host: MqttHost, url: str, context: ssl.SSLContext, keepalive: float) -> None:
        self.host = host
        self.endpoint = Endpoint.from_url(url)
        self.context = context
        self.keepalive = max(5, int(keepalive))
        self.topics = Topics(host.hub_id)
        self.events_sent = 0
        self._client: aiomqtt.Client | None = None
        self._pubacks: dict[int, asyncio.Future[ReasonCode]] = {}

    def _make_client(self) -> aiomqtt.Client:
        connect = _properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = SESSION_EXPIRY
        connect.ReceiveMaximum = RECEIVE_MAXIMUM
        connect.MaximumPacketSize = MAX_PACKET
        will = aiomqtt.Will(self.topics.state, json.dumps({"online": False}), qos=1, retain=True)
        client = aiomqtt.Client(
            self.endpoint.host,
            self.endpoint.port,
            identifier=self.host.hub_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            clean_start=False,
            keepalive=self.keepalive,
            properties=connect,
            tls_context=self.context,
            transport="websockets" if self.endpoint.path is not None else "tcp",
            websocket_path=self.endpoint.path,
            timeout=TIMEOUT,
            # Bounded by RECEIVE_MAXIMUM: we ack a request only after the desk took it.
            max_queued_incoming_messages=0,
            max_inflight_messages=INFLIGHT,  # paho's default of 20 would cap the event rate
            # Small frames answered at once: Nagle plus delayed ACKs cost ~40 ms per hop otherwise.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            logger=logging.getLogger(f"{__name__}.paho"),
        )
        paho = client._client
        if self.context.check_hostname:  # else paho's own opener, which matches the hostname itself
            opener: Any = paho
            opener._create_socket = _socket_opener(paho, self.context, self.endpoint)
        paho.manual_ack_set(True)
        inner: Any = paho.on_publish

        def on_publish(c: Any, userdata: Any, mid: int, reason: ReasonCode, props: Any) -> None:
            future = self._pubacks.pop(mid, None)
            if future is not None and not future.done():
                future.set_result(reason)
            elif inner is not None:
                inner(c, userdata, mid, reason, props)

        paho.on_publish = on_publish
        return client

    async def run(self) -> None:
        """Connect, announce, subscribe, then move events and requests until the session ends."""
        client = self._make_client()
        await client.__aenter__()
        self._client = client
        try:
            await self._session(client)
        finally:
            self._client = None
            for future in self._pubacks.values():
                future.cancel()
            self._pubacks.clear()
            await self._leave(client)

    async def _session(self, client: aiomqtt.Client) -> None:
        await self._subscribe(client)
        await self.publish(self.topics.state, json.dumps(self.host.hello_state()), retain=True)
        self.host.opened(self.host.outbox.acked_seq)
        self.host.requests.new_connection()
        await self.host.requests.flush_unsent()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._upload(self.host.outbox.acked_seq))
            group.create_task(self.host.watch_certificate())
            await self._read(client)
            raise ConnectionError("the broker ended the session")

    @staticmethod
    async def _leave(client: aiomqtt.Client) -> None:
        """Drop the socket without DISCONNECT (so the broker publishes the will), then let aiomqtt
        tidy up. A graceful DISCONNECT could wait on a dead peer and, worse, turn a cancellation of
        the link into an MqttError; the session is over either way."""
        client._client._sock_close()  # paho has no public abort
        if not client._disconnected.done():  # so that __aexit__ only releases its lock
            client._disconnected.set_result(None)
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2):
                await client.__aexit__(None, None, None)

    def close(self, reason: str) -> None:
        """End the session (DISCONNECT); `run` then raises ConnectionError naming `reason`."""
        client = self._client
        if client is not None:
            log.info("cloud link: ending the MQTT session (%s)", reason)
            client._client.disconnect()

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        topics = list(self.topics.requests)
        granted = await client.subscribe([(topic, 1) for topic in topics])
        for topic, code in zip(topics, granted, strict=False):
            value = code.value if isinstance(code, ReasonCode) else int(cast(int, code))
            if value >= 0x80:
                raise BrokerRefused(f"the subscription to {topic}", value, str(code))

    async def publish(
        self, topic: str, payload: str, *, retain: bool = False, properties: Properties | None = None
    ) -> None:
        """Publish with QoS 1 and wait for a successful PUBACK; BrokerRefused on a failure code."""
        client = self._client
        if client is None:
            raise ConnectionError("no MQTT session")
        paho = client._client
        info = paho.publish(topic, payload, 1, retain, properties)
        if info.rc != 0:
            raise ConnectionError(f"cannot publish to {topic} (paho error {info.rc})")
        future: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        self._pubacks[info.mid] = future
        async with asyncio.timeout(TIMEOUT * 4):
            reason = await future
        if reason.is_failure:
            raise BrokerRefused(f"a publish to {topic}", reason.value, str(reason))

    async def send_answer(self, message: HubMessage, reply: object) -> bool:
        """The request desk's sender over MQTT; False if the session is gone."""
        if self._client is None:
            return False
        topic, properties = self.topics.answer(message, reply)
        try:
            await self.publish(topic, encode(message), properties=properties)
        except (ConnectionError, TimeoutError, aiomqtt.MqttError):
            return False
        return True

    async def _upload(self, acked: int) -> None:
        """Publish every stored event after `acked` in order, INFLIGHT at a time; ack in order."""
        outbox = self.host.outbox
        window = asyncio.Semaphore(INFLIGHT)
        sent: deque[tuple[int, asyncio.Future[None]]] = deque()
        cursor = acked

        def settle() -> None:
            """Acknowledge the longest run of delivered events from the oldest one sent."""
            last = None
            while sent and sent[0][1].done() and not sent[0][1].cancelled():
                if sent[0][1].exception() is not None:
                    break  # not delivered: nothing after it may be acknowledged
                last = sent.popleft()[0]
            if last is not None:
                outbox.ack(last)

        async def one(done: asyncio.Future[None], text: str) -> None:
            try:
                await self.publish(self.topics.events, text)
            except BaseException as exc:
                done.set_exception(exc if isinstance(exc, Exception) else ConnectionError("stopped"))
                raise
            else:
                done.set_result(None)
            finally:
                window.release()
            settle()

        async with asyncio.TaskGroup() as group:
            while True:
                rows = await outbox.read_after(cursor)
                if not rows:
                    if outbox.snapshot_needed:
                        await self.send_answer(self.host.snapshot_message(), None)
                        outbox.snapshot_sent()
                    rows = await outbox.next_rows(cursor)
                for row in rows:
                    await window.acquire()
                    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    done.add_done_callback(_retrieve)
                    sent.append((row.seq, done))
                    group.create_task(one(done, encode_event(row.seq, row.event)))
                    cursor = row.seq
                self.events_sent += len(rows)

    async def _read(self, client: aiomqtt.Client) -> None:
        paho = client._client
        async for message in client.messages:
            try:
                await self._take(message)
            finally:
                if message.qos > 0:
                    paho.ack(message.mid, message.qos)

    async def _take(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        reply = self.topics.reply_of(message.properties)
        payload = message.payload if isinstance(message.payload, bytes | str) else b""
        expected = self.topics.requests.get(topic)
        try:
            if expected is None:
                raise ProtocolError(f"no requests are taken on {topic}")
            request = decode_from_cloud(payload)
            if request.type is not expected:
                raise ProtocolError(f"{topic} takes {expected.value}, not {request.type.value}")
        except ProtocolError as exc:
            ratelog.log(
                log, "cloud.bad_frame", logging.WARNING, "cloud sent a bad message on %s: %s", topic, exc
            )
            code = str(getattr(exc, "code", "malformed"))
            in_reply_to = getattr(exc, "id", None) or reply_id_of(payload)
            await self.host.requests.answer(ErrorMessage(code, str(exc), in_reply_to), reply)
            return
        await self.host.requests.submit(Request(request, reply))


def _properties(packet_type: int) -> Properties:
    """MQTT 5 properties for one packet type (paho's constructor is untyped)."""
    return Properties(packet_type)  # type: ignore[no-untyped-call]


def _socket_opener(
    paho: mqtt_client.Client, context: ssl.SSLContext, endpoint: Endpoint
) -> Callable[[], Any]:
    """paho's socket set-up (TCP with TCP_NODELAY, TLS, WebSocket upgrade), except that a failed
    handshake closes the socket at once: paho leaves it to the garbage collector, one open descriptor and a
    ResourceWarning per retry while a broker (or an impostor) refuses us. `context` checks the
    hostname (check_hostname), so paho's separate hostname match is not needed."""

    def open_socket() -> Any:
        tcp = paho._create_socket_connection()
        try:
            # Here, not (only) in aiomqtt's socket_options: aiomqtt skips them for a WebSocket
            # (paho hands it a wrapper), and Nagle plus delayed ACKs then cost ~40 ms per command.
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = context.wrap_socket(tcp, server_hostname=endpoint.host, do_handshake_on_connect=False)
        except BaseException:
            tcp.close()
            raise
        try:
            sock.settimeout(paho._connect_timeout)
            sock.do_handshake()
            if endpoint.path is None:
                return sock
            return mqtt_client._WebsocketWrapper(
                socket=sock,
                host=endpoint.host,
                port=endpoint.port,
                is_ssl=True,
                path=endpoint.path,
                extra_headers=None,
            )
        except BaseException:
            sock.close()
            raise

    return open_socket


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failed publish's exception as seen (the task that failed reports it)."""
    if not future.cancelled():
        future.exception()


def refused_code(exc: BaseException) -> int | None:
    """The MQTT reason code if `exc` says the broker refused the hub's identity, else None."""
    if isinstance(exc, BrokerRefused):
        return exc.code
    if isinstance(exc, aiomqtt.MqttCodeError):
        rc = exc.rc
        value = rc.value if isinstance(rc, ReasonCode) else rc
        # MQTT 3.1.1 CONNACK 4/5 (bad credentials / not authorised) come through paho as small ints.
        if isinstance(rc, ReasonCode) and value in REFUSED_CODES:
            return value
        if isinstance(rc, int) and rc in (4, 5):
            return rc
    return None
