"""CloudLink: the agent part that keeps one outbound, mutually authenticated WebSocket to the cloud.

Rules of this file: this is the asyncio shell around the sans-I/O envelope (`protocol.py`); it moves
frames and owns timers, nothing else decides protocol. The bus subscription is taken in the
constructor so no event is missed between start-up and the first connection. Events reach the cloud
only from the outbox (after they are durable), in seq order, on every connection from the cloud's
`acked_seq` on. Command and rule tasks belong to the link, not to a connection, so a result finished
during a reconnect is sent on the next connection. All waiting goes through the injected Clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub_agent import __version__
from hub_agent.cloud import pki
from hub_agent.cloud.commands import CommandDesk
from hub_agent.cloud.failures import (
    CloudClosed,
    LinkDead,
    closed_before_http,
    describe,
    is_auth_failure,
    pong_timeout,
    unwrap,
)
from hub_agent.cloud.metrics import CloudCollector
from hub_agent.cloud.outbox import Outbox
from hub_agent.cloud.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    CertStatus,
    CloudMessage,
    ErrorMessage,
    Hello,
    HubMessage,
    SeqOutOfRange,
    StateSnapshot,
    encode,
    encode_event,
    reply_id_of,
)
from hub_agent.cloud.renewal import CertificateKeeper, iso
from hub_agent.cloud.requests import BURST, Request, RequestDesk
from hub_agent.cloud.session import HubSession
from hub_agent.config import CloudSection
from hub_agent.logs import TRACE
from hub_agent.runtime import Runtime
from hub_agent.store.settings import put_setting
from hub_core import ratelog
from hub_core.backoff import Backoff, Clock, SystemClock
from hub_core.bus import Overflow, Subscription, SubscriptionClosed
from hub_core.errors import ProtocolError
from hub_core.model import HubEvent, JSONObject, rfc3339

if TYPE_CHECKING:
    from hub_agent.cloud.mqtt import MqttConnection

log = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_KEY = "cloud.status"
#: A connection that stayed up this long resets the back-off to its 1 s start.
STABLE_AFTER = 60.0
#: After an authentication/authorisation failure, wait about this long (jittered +-25 %) before retrying.
AUTH_RETRY = 900.0
#: While not provisioned (no key or certificate yet), look for the files this often.
PROVISION_RECHECK = 60.0
#: How long the cloud has to answer hello with welcome.
WELCOME_TIMEOUT = 10.0
#: How often the certificate's expiry is checked while connected.
CERT_CHECK_INTERVAL = 12 * 3600.0
#: TLS 1.3 reports a rejected client certificate only as the server hanging up before the HTTP
#: response; after this many such hang-ups in a row the link treats it as an authentication failure.
SILENT_REJECTIONS = 3
#: Frames above MAX_MESSAGE_BYTES and up to this are answered with an error; bigger ones close (1009).
TRANSPORT_MAX_SIZE = 4 * MAX_MESSAGE_BYTES
#: Events moved from the bus subscription to the outbox per store write.
BATCH = 1000
#: Store writes of outbox batches in flight before the outbox writer waits for the disk.
MAX_PENDING_WRITES = 8


class LinkState(StrEnum):
    """The link's state as shown by `hub-agent info` (`cloud.status` in the store)."""

    CONNECTED = "connected"
    CONNECTING = "connecting"
    BACKOFF = "backoff"
    AUTH_FAILED = "auth_failed"
    DISABLED = "disabled"
    NOT_PROVISIONED = "not_provisioned"


class CloudLink:
    """The cloud link part: connection, outbox upload, cloud commands, rules sync, cert renewal."""

    name = "cloud"

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        auth_retry: float = AUTH_RETRY,
        stable_after: float = STABLE_AFTER,
    ) -> None:
        self.runtime = runtime
        self.section: CloudSection | None = runtime.config.cloud
        self.clock: Clock = clock or SystemClock()
        self._ssl_context = ssl_context
        self._rng = rng or random.Random()  # noqa: S311 (jitter only)
        cap = self.section.backoff_cap if self.section else 60.0
        self.backoff = backoff or Backoff(1.0, cap, self._rng)
        self.auth_retry = auth_retry
        self.stable_after = stable_after
        self.ping_interval = self.section.ping_interval if self.section else 10.0
        # Subscribed here, before radios start, so the outbox sees every event from the first one on.
        self._subscription: Subscription = self._subscribe()
        self.outbox = Outbox(runtime.db, self.section.outbox_limit if self.section else 100_000)
        self.commands = CommandDesk(runtime.hub, runtime.db, self.clock)
        self.state = LinkState.CONNECTING if self.section else LinkState.DISABLED
        self.status: JSONObject = {}
        self.connections = 0
        self.events_sent = 0
        self.bad_messages = 0
        self.bus_overflows = 0
        cert_path, key_path = self._paths()
        client_ca = (self.section.client_ca or self.section.ca) if self.section else None
        self.certificate = CertificateKeeper(cert_path, key_path, runtime.hub_id, self.clock, client_ca)
        rate = self.section.max_requests_per_second if self.section else 50.0
        self.requests = RequestDesk(
            runtime,
            self.commands,
            self.certificate,
            self._send_answer,
            self.clock,
            rate=rate,
            burst=max(BURST, int(rate * 4)),
        )
        self.requests.on_installed = self._certificate_installed
        self.hub_id = runtime.hub_id
        self._ws: ClientConnection | None = None
        self._mqtt: MqttConnection | None = None
        self._answer_sender: Callable[[HubMessage, object], Awaitable[bool]] | None = None
        self._connected_at: float | None = None
        self._state_changed = asyncio.Event()
        self._last_logged_error: str | None = None
        self._silent_rejections = 0

    @property
    def state_name(self) -> str:
        """The state as a string (for /metrics)."""
        return self.state.value

    def metrics(self) -> CloudCollector:
        """A Prometheus collector of the link's counters (the LAN server's /metrics registers it)."""
        return CloudCollector(self, self.section.protocol if self.section else "ws")

    @property
    def ota_handler(self) -> Callable[[JSONObject], Awaitable[None] | None] | None:
        """Called with the body of each `ota_available` (the OTA part sets it)."""
        return self.requests.ota_handler

    @ota_handler.setter
    def ota_handler(self, handler: Callable[[JSONObject], Awaitable[None] | None] | None) -> None:
        self.requests.ota_handler = handler

    # --- observing ------------------------------------------------------------------------------

    async def wait_for(self, *states: LinkState) -> LinkState:
        """Wait until the link is in one of `states` (for tests, the demo and diagnostics)."""
        while self.state not in states:
            self._state_changed.clear()
            await self._state_changed.wait()
        return self.state

    def _set_state(self, state: LinkState, error: str | None = None) -> None:
        if state is self.state and error == self.status.get("last_error") and self.status:
            return
        self.state = state
        self.status = {
            "state": state.value,
            "since": rfc3339(self.clock.time()),
            "last_error": error,
            "cert_not_after": iso(self.certificate.not_after),
        }
        self._publish_status()
        self._state_changed.set()

    def _publish_status(self) -> None:
        self.runtime.facts["cloud"] = dict(self.status)
        self.runtime.db.submit_nowait(put_setting(STATUS_KEY, dict(self.status)))

    # --- the part -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the link up until cancelled."""
        if self.section is None:
            self._set_state(LinkState.DISABLED)
            await asyncio.Future()  # nothing to do until the agent stops
            return
        await self.outbox.load()
        await self.commands.load()
        self.certificate.refresh()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._write_outbox(), name="cloud-outbox")
            group.create_task(self.requests.run(), name="cloud-requests")
            await self._connect_forever()

    def _subscribe(self) -> Subscription:
        return self.runtime.bus.subscribe("cloud", maxsize=20_000, overflow=Overflow.CLOSE)

    async def _write_outbox(self) -> None:
        """Move events from the bus to the outbox, in batches, never holding up the publisher."""
        pending: deque[asyncio.Future[None]] = deque()
        while True:
            try:
                first = await self._subscription.get()
            except SubscriptionClosed:
                # We fell too far behind and the bus closed us: events are gone, so the cloud gets a
                # snapshot of the state instead.
                self.bus_overflows += 1
                log.warning("cloud outbox fell behind the event bus; a state snapshot will follow")
                self._subscription = self._subscribe()
                self.outbox.need_snapshot()
                continue
            batch: list[HubEvent] = [first]
            while len(batch) < BATCH and (event := self._subscription.get_nowait()) is not None:
                batch.append(event)
            pending.append(self.outbox.add(batch))
            while pending and pending[0].done():
                pending.popleft()
            if len(pending) > MAX_PENDING_WRITES:
                await asyncio.gather(*pending, return_exceptions=True)
                pending.clear()

    async def _connect_forever(self) -> None:
        assert self.section is not None
        while True:
            context = self._context()
            if context is None:
                await self.clock.sleep(PROVISION_RECHECK)
                continue
            self._set_state(LinkState.CONNECTING, self.status.get("last_error"))
            connected_at: float | None = None
            try:
                connected_at = await self._connection(context)
                error = "the cloud closed the connection"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A library turned our cancellation into its own error (aiomqtt does on exit).
                    raise asyncio.CancelledError from exc
                connected_at = getattr(exc, "connected_at", None)
                self._silent_rejections = self._silent_rejections + 1 if closed_before_http(exc) else 0
                refused = is_auth_failure(exc) or closed_before_http(exc)
                if refused and self.certificate.on_probation and self.certificate.roll_back():
                    # The renewed certificate is refused: the previous one worked, so use it again.
                    self._silent_rejections = 0
                    error = f"the cloud refused the renewed certificate ({describe(exc)}); rolled back"
                elif is_auth_failure(exc):
                    await self._auth_failed(describe(exc))
                    continue
                elif self._silent_rejections >= SILENT_REJECTIONS:
                    await self._auth_failed(self._explain_silent_rejection())
                    continue
                else:
                    error = describe(exc)
                log.debug("cloud connection ended", exc_info=True)
            finally:
                self._ws = None
                self._answer_sender = None
            if connected_at is not None and self.clock.monotonic() - connected_at >= self.stable_after:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self._set_state(LinkState.BACKOFF, error)
            self._log_once(logging.WARNING, "cloud link down (%s); retrying in %.1f s", error, delay)
            await self.clock.sleep(delay)

    def _explain_silent_rejection(self) -> str:
        """Why the cloud keeps hanging up after TLS: usually our certificate, so say what we know of it."""
        return self.certificate.explain_rejection(
            f"the cloud closed the connection right after TLS {self._silent_rejections} times in a row; "
            "it most likely rejects the hub certificate"
        )

    async def _auth_failed(self, error: str) -> None:
        self._set_state(LinkState.AUTH_FAILED, error)
        delay = self.auth_retry * self._rng.uniform(0.75, 1.25)
        # Logged once per distinct error: a hub with a revoked certificate must not flood its log.
        self._log_once(
            logging.ERROR, "cloud refused the connection (%s); next attempt in %.0f s", error, delay
        )
        await self.clock.sleep(delay)

    def _log_once(self, level: int, message: str, error: str, delay: float) -> None:
        if error != self._last_logged_error:
            self._last_logged_error = error
            log.log(level, message, error, delay)
        else:
            log.debug(message, error, delay)

    def _paths(self) -> tuple[Path, Path]:
        data_dir = self.runtime.config.hub.data_dir
        cert = self.section.cert if self.section else None
        key = self.section.key if self.section else None
        return cert or data_dir / "hub.crt", key or data_dir / "hub.key"

    def _context(self) -> ssl.SSLContext | None:
        """The TLS context for the next attempt, or None (state not_provisioned) if files are missing."""
        if self._ssl_context is not None:
            return self._ssl_context
        assert self.section is not None
        cert, key = self._paths()
        missing = [str(p) for p in (cert, key) if not p.exists()]
        try:
            if missing:
                raise FileNotFoundError(f"missing {' and '.join(missing)} (run `hub-agent provision`)")
            return pki.client_context(self.section.ca, cert, key)
        except (OSError, ssl.SSLError, ValueError) as exc:
            error = describe(exc)
            if self.state is not LinkState.NOT_PROVISIONED or self.status.get("last_error") != error:
                log.error("cloud link not provisioned: %s", error)
            self._set_state(LinkState.NOT_PROVISIONED, error)
            return None

    async def _connection(self, context: ssl.SSLContext) -> float | None:
        """One connection from connect to close; returns when it was established (monotonic)."""
        assert self.section is not None
        self._connected_at = None
        try:
            if self.section.protocol == "mqtt":
                await self._mqtt_connection(context)
            else:
                await self._ws_connection(context)
        except BaseException as exc:
            inner = unwrap(exc)
            if self._connected_at is not None:
                inner.connected_at = self._connected_at
            if inner is exc:
                raise
            raise inner from None
        return self._connected_at

    async def _ws_connection(self, context: ssl.SSLContext) -> None:
        assert self.section is not None
        if not self.section.url.startswith("wss://"):
            raise ValueError(f'protocol = "ws" needs a wss:// URL, not {self.section.url!r}')
        async with connect(
            self.section.url,
            ssl=context,
            ping_interval=None,  # our own keepalive below, on the injectable clock
            max_size=TRANSPORT_MAX_SIZE,
            open_timeout=WELCOME_TIMEOUT,
            close_timeout=2,
            user_agent_header=f"hub-agent/{__version__}",
        ) as ws:
            session = HubSession(self._hello(), lambda: self.outbox.last_seq)
            await ws.send(session.start())
            welcome = await self._within(ws.recv(), WELCOME_TIMEOUT, "welcome")
            try:
                session.receive(welcome)
            except SeqOutOfRange as exc:
                # Taking it would move the hub's seq past everything it sent (up to int64's end).
                await ws.send(encode(ErrorMessage(exc.code, str(exc), "welcome")))
                raise
            self._ws = ws
            self._answer_sender = self._send_answer_ws
            self.opened(session.acked_seq)
            self.outbox.welcome(session.acked_seq)
            self.requests.new_connection()
            await self.requests.flush_unsent()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._send_events(ws, session.acked_seq))
                group.create_task(self._keepalive(ws))
                group.create_task(self.watch_certificate())
                await self._read(ws, session)
                # The cloud closed cleanly; leaving the group cancels the sender and the timers.
                reason = f" {ws.close_reason}" if ws.close_reason else ""
                raise CloudClosed(f"the cloud closed the connection ({ws.close_code}{reason})")

    async def _mqtt_connection(self, context: ssl.SSLContext) -> None:
        assert self.section is not None
        # Imported here: aiomqtt and paho (~3 MB) are loaded only by a hub whose cloud speaks MQTT.
        from hub_agent.cloud.mqtt import MqttConnection

        connection = MqttConnection(self, self.section.url, context, self.ping_interval)
        self._mqtt = connection
        self._answer_sender = connection.send_answer
        try:
            await connection.run()
        finally:
            self._mqtt = None
            self.events_sent += connection.events_sent

    # --- what both transports call (MqttHost) ------------------------------------------------------

    def opened(self, acked_seq: int) -> None:
        """The session is up: state, counters, and the renewed certificate (if any) is proven."""
        self._connected_at = self.clock.monotonic()
        self.connections += 1
        self._last_logged_error = None
        self._silent_rejections = 0
        self._set_state(LinkState.CONNECTED)
        self.certificate.confirm()
        log.info(
            "cloud link up (connection %d): cloud holds events up to seq %d, %d on disk",
            self.connections,
            acked_seq,
            self.outbox.count,
        )

    def hello_state(self) -> JSONObject:
        """The retained MQTT `state` payload while connected."""
        return {"online": True, "version": self.runtime.version, "boot_id": self.runtime.boot_id}

    def snapshot_message(self) -> HubMessage:
        """A state_snapshot of every device."""
        return self.snapshot()

    async def _within(self, awaitable: Awaitable[T], seconds: float, what: str) -> T:
        """`awaitable`'s result, or TimeoutError after `seconds` of the link's clock."""
        task = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(timer, return_exceptions=True)
        if not task.done() or task.cancelled():
            await asyncio.gather(task, return_exceptions=True)
            raise TimeoutError(f"no {what} within {seconds:g} s")
        return task.result()

    # --- one connection ---------------------------------------------------------------------------

    def _hello(self) -> Hello:
        return Hello(
            self.runtime.hub_id, self.runtime.version, self.runtime.boot_id, self.commands.last_command_id
        )

    async def _read(self, ws: ClientConnection, session: HubSession) -> None:
        async for frame in ws:
            if log.isEnabledFor(TRACE):
                log.log(TRACE, "cloud connection %d < %.500s", self.connections, frame)
            try:
                message = session.receive(frame)
            except ProtocolError as exc:
                self.bad_messages += 1
                code = str(getattr(exc, "code", "malformed"))
                in_reply_to = getattr(exc, "id", None) or reply_id_of(frame)
                ratelog.log(
                    log,
                    "cloud.bad_frame",
                    logging.WARNING,
                    "cloud sent a bad frame (connection %d): %s",
                    self.connections,
                    exc,
                )
                await self._send(ErrorMessage(code, str(exc), in_reply_to))
                if isinstance(exc, SeqOutOfRange):
                    raise
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: CloudMessage) -> None:
        if isinstance(message, Ack):
            self.outbox.ack(message.seq)
        else:
            await self.requests.submit(Request(message))

    async def _send_answer(self, message: HubMessage, reply: object) -> bool:
        """The request desk's sender: False when there is no connection to send on."""
        sender = self._answer_sender
        return False if sender is None else await sender(message, reply)

    async def _send_answer_ws(self, message: HubMessage, reply: object) -> bool:
        return await self._send(message)

    async def _send(self, message: HubMessage) -> bool:
        """Send now if connected; False if there is no connection (the caller decides what to keep)."""
        text = encode(message)
        ws = self._ws
        if log.isEnabledFor(TRACE):
            log.log(TRACE, "cloud connection %d > %.500s", self.connections, text)
        if ws is None:
            return False
        try:
            await ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def _send_events(self, ws: ClientConnection, acked_seq: int) -> None:
        """Resend everything after `acked_seq`, then stream new events as they become durable."""
        cursor = acked_seq
        while True:
            rows = await self.outbox.read_after(cursor)
            if not rows:
                if self.outbox.snapshot_needed:
                    await ws.send(encode(self.snapshot()))
                    self.outbox.snapshot_sent()
                rows = await self.outbox.next_rows(cursor)
            for row in rows:
                await ws.send(encode_event(row.seq, row.event))
                cursor = row.seq
            self.events_sent += len(rows)

    async def _keepalive(self, ws: ClientConnection) -> None:
        """Ping every ping_interval; no pong in time means the connection is half-open: drop it."""
        timeout = pong_timeout(self.ping_interval)
        while True:
            await self.clock.sleep(self.ping_interval)
            pong = await ws.ping()
            try:
                await self._within(pong, timeout, "pong")
            except TimeoutError:
                log.warning(
                    "cloud link: no pong within %g s (connection %d is half-open); reconnecting",
                    timeout,
                    self.connections,
                )
                ws.transport.abort()
                raise LinkDead(f"no pong within {timeout:g} s") from None

    async def watch_certificate(self) -> None:
        """Ask for a renewal when the certificate nears expiry; look again every 12 h."""
        while True:
            request = self.certificate.renewal_request(self.connections)
            if request is not None:
                await self._send_answer(request, None)
            await self.clock.sleep(CERT_CHECK_INTERVAL)

    def snapshot(self) -> StateSnapshot:
        """Every device with its current state."""
        return self.requests.snapshot()

    async def _certificate_installed(self, verdict: CertStatus) -> None:
        """Publish the new expiry and reconnect, so the new certificate is proven (or rolled back) now."""
        self.status["cert_not_after"] = verdict.not_after
        self._publish_status()
        ws, mqtt = self._ws, self._mqtt
        if ws is not None:
            await ws.close(1000, "reconnecting with the renewed certificate")
        elif mqtt is not None:
            mqtt.close("reconnecting with the renewed certificate")
