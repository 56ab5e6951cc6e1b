"""A DEVELOPMENT cloud relay and throwaway PKI: for `hub-agent demo`, `hub-agent relay` and the tests.

This is not a production gateway: it keeps everything in memory, trusts one dev CA, and signs any
renewal CSR whose CN matches the connected hub. It does speak the real protocol over real mutual TLS:
it accepts hubs with a client certificate from `client_ca`, checks that the certificate's CN is the
hub id the hub claims in hello, acknowledges events (deduplicated by seq), and lets its owner send
commands, rules and snapshot requests and await the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from hub_agent.cloud import pki
from hub_agent.cloud.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    Certificate,
    CertRenewal,
    CommandMessage,
    CommandResultMessage,
    Event,
    Hello,
    HubMessage,
    Message,
    RulesDelete,
    RulesPut,
    RulesResult,
    SnapshotRequest,
    StateSnapshot,
    Welcome,
    decode_from_hub,
    encode,
)
from hub_core.errors import ProtocolError
from hub_core.model import JSONObject

log = logging.getLogger(__name__)
M = TypeVar("M", bound=HubMessage)

#: Acknowledge at least every this many events, and after ACK_DELAY seconds of quiet.
ACK_EVERY = 200
ACK_DELAY = 0.02


# --- throwaway PKI ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DevPki:
    """Where make_dev_pki put things."""

    folder: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    hub_cert: Path
    hub_key: Path
    hub_id: str


def make_dev_pki(
    folder: Path,
    hub_id: str,
    *,
    hub_key: Path | None = None,
    hub_cert: Path | None = None,
    now: dt.datetime | None = None,
    hub_days: int = 365,
) -> DevPki:
    """Create a dev CA, a server cert for 127.0.0.1/localhost and a client cert for `hub_id`.

    `hub_key` is used if it exists (e.g. the hub's own key in its data_dir), else created (0600).
    """
    now = now or dt.datetime.now(dt.UTC)
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = pki.make_ca("hub-agent dev cloud CA", now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = pki.issue(
        ca_cert,
        ca_key,
        server_key.public_key(),
        "hub-agent dev relay",
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=3650),
        server_names=("127.0.0.1", "localhost", "::1"),
    )
    hub_key = hub_key or folder / "hub.key"
    if hub_key.exists():
        key = pki.load_key(hub_key)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        pki.write_private_key(hub_key, key)
    client_cert = pki.issue(
        ca_cert,
        ca_key,
        key.public_key(),
        hub_id,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=hub_days),
        client=True,
    )
    paths = DevPki(
        folder=folder,
        ca_cert=folder / "ca.pem",
        ca_key=folder / "ca.key",
        server_cert=folder / "server.crt",
        server_key=folder / "server.key",
        hub_cert=hub_cert or folder / "hub.crt",
        hub_key=hub_key,
        hub_id=hub_id,
    )
    pki.write_atomically(paths.ca_cert, pki.pem(ca_cert))
    pki.write_private_key(paths.ca_key, ca_key)
    pki.write_atomically(paths.server_cert, pki.pem(server_cert))
    pki.write_private_key(paths.server_key, server_key)
    pki.write_atomically(paths.hub_cert, pki.pem(client_cert))
    return paths


# --- the relay --------------------------------------------------------------------------------


@dataclass(slots=True)
class HubConnection:
    """One connected hub, as the relay sees it."""

    hub_id: str
    hello: Hello
    ws: ServerConnection
    received: int = 0
    unacked: int = 0
    ack_timer: asyncio.TimerHandle | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class DevRelay:
    """A development cloud relay on 127.0.0.1 with mutual TLS; see the module docstring."""

    def __init__(
        self,
        *,
        server_cert: Path,
        server_key: Path,
        client_ca: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        ca_cert: Path | None = None,
        ca_key: Path | None = None,
        auto_ack: bool = True,
        renew_days: int = 90,
        on_message: Callable[[str, HubMessage], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.context = pki.server_context(server_cert, server_key, client_ca)
        self._ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        if ca_cert is not None and ca_key is not None:
            self._ca = (pki.load_certificate(ca_cert), pki.load_key(ca_key))
        self.auto_ack = auto_ack
        self.renew_days = renew_days
        self.on_message = on_message
        #: (hub id, Event) for every event seen for the first time, in arrival order.
        self.events: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(maxsize=1_000_000)
        #: (hub id, message) for every other hub message (results, snapshots, errors, hellos).
        self.messages: asyncio.Queue[tuple[str, HubMessage]] = asyncio.Queue(maxsize=100_000)
        #: hub id -> highest event seq received (and acknowledged once auto_ack allows).
        self.last_seq: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.duplicates = 0
        self.hubs: dict[str, HubConnection] = {}
        self.connections = 0
        self._server: Server | None = None
        self._waiters: dict[tuple[str, str, str], asyncio.Future[HubMessage]] = {}
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def from_pki(cls, paths: DevPki, **kwargs: Any) -> DevRelay:
        """A relay that serves with the dev server cert, trusts the dev CA and signs renewals with it."""
        return cls(
            server_cert=paths.server_cert,
            server_key=paths.server_key,
            client_ca=paths.ca_cert,
            ca_cert=paths.ca_cert,
            ca_key=paths.ca_key,
            **kwargs,
        )

    @property
    def url(self) -> str:
        """The wss:// URL hubs should use."""
        return f"wss://{self.host}:{self.port}/hub"

    async def start(self) -> None:
        """Listen (again, on the same port after a stop)."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            ssl=self.context,
            max_size=4 * MAX_MESSAGE_BYTES,
            ping_interval=None,
            close_timeout=1,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("dev relay listening on %s", self.url)

    async def stop(self) -> None:
        """Acknowledge what was received, close every connection (going away) and stop listening."""
        await self._close(acknowledge=self.auto_ack)

    async def kill(self) -> None:
        """Crash: drop every TCP connection without a close frame or a last ack, stop listening."""
        for hub in list(self.hubs.values()):
            hub.ws.transport.abort()
        await self._close(acknowledge=False)

    async def _close(self, *, acknowledge: bool) -> None:
        if acknowledge:
            for hub in list(self.hubs.values()):
                self._flush_ack(hub)
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._forget_all()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _forget_all(self) -> None:
        for hub in self.hubs.values():
            if hub.ack_timer is not None:
                hub.ack_timer.cancel()
        self.hubs.clear()
        self._connected.clear()

    async def wait_connected(self, hub_id: str | None = None) -> HubConnection:
        """Wait until `hub_id` (or any hub) is connected."""
        while True:
            for hub in self.hubs.values():
                if hub_id is None or hub.hub_id == hub_id:
                    return hub
            self._connected.clear()
            await self._connected.wait()

    def _hub(self, hub_id: str | None) -> HubConnection:
        if hub_id is None:
            if len(self.hubs) != 1:
                raise LookupError(f"{len(self.hubs)} hubs are connected; name one")
            return next(iter(self.hubs.values()))
        hub = self.hubs.get(hub_id)
        if hub is None:
            raise LookupError(f"hub {hub_id!r} is not connected")
        return hub

    # --- talking to hubs ---------------------------------------------------------------------------

    async def send(self, message: Message, hub_id: str | None = None) -> None:
        """Send one message to a connected hub."""
        await self._hub(hub_id).ws.send(encode(message))

    async def send_raw(self, text: str | bytes, hub_id: str | None = None) -> None:
        """Send any frame, valid or not (for tests of the hub's parser)."""
        await self._hub(hub_id).ws.send(text)

    async def send_command(
        self,
        device: str,
        command: str,
        args: JSONObject | None = None,
        *,
        hub_id: str | None = None,
        command_id: str | None = None,
        expires_at: float | None = None,
        timeout: float = 15.0,
    ) -> CommandResultMessage:
        """Send a command and wait for its command_result."""
        hub = self._hub(hub_id)
        command_id = command_id or f"cmd-{next(self._ids)}"
        waiter = self._expect(hub.hub_id, "command_result", command_id)
        await hub.ws.send(encode(CommandMessage(command_id, device, command, args or {}, expires_at)))
        return await self._await(waiter, CommandResultMessage, timeout)

    async def put_rule(
        self, rule: JSONObject, *, hub_id: str | None = None, timeout: float = 15.0
    ) -> RulesResult:
        """rules_put and wait for the rules_result."""
        hub = self._hub(hub_id)
        request_id = f"req-{next(self._ids)}"
        waiter = self._expect(hub.hub_id, "rules_result", request_id)
        await hub.ws.send(encode(RulesPut(rule, request_id)))
        return await self._await(waiter, RulesResult, timeout)

    async def delete_rule(
        self, rule_id: str, *, hub_id: str | None = None, timeout: float = 15.0
    ) -> RulesResult:
        """rules_delete and wait for the rules_result."""
        hub = self._hub(hub_id)
        request_id = f"req-{next(self._ids)}"
        waiter = self._expect(hub.hub_id, "rules_result", request_id)
        await hub.ws.send(encode(RulesDelete(rule_id, request_id)))
        return await self._await(waiter, RulesResult, timeout)

    async def request_snapshot(self, *, hub_id: str | None = None, timeout: float = 15.0) -> StateSnapshot:
        """snapshot_request and wait for the state_snapshot."""
        hub = self._hub(hub_id)
        waiter = self._expect(hub.hub_id, "state_snapshot", "")
        await hub.ws.send(encode(SnapshotRequest()))
        return await self._await(waiter, StateSnapshot, timeout)

    def _expect(self, hub_id: str, kind: str, key: str) -> asyncio.Future[HubMessage]:
        future: asyncio.Future[HubMessage] = asyncio.get_running_loop().create_future()
        self._waiters[(hub_id, kind, key)] = future
        return future

    async def _await(self, waiter: asyncio.Future[HubMessage], kind: type[M], timeout: float) -> M:
        try:
            async with asyncio.timeout(timeout):
                result = await waiter
        finally:
            for key, value in list(self._waiters.items()):
                if value is waiter:
                    del self._waiters[key]
        assert isinstance(result, kind)
        return result

    def ack_now(self, hub_id: str | None = None) -> None:
        """Acknowledge everything received from a hub so far (when auto_ack is off)."""
        hub = self._hub(hub_id)
        self._flush_ack(hub)

    # --- serving ---------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        peer = ws.transport.get_extra_info("peercert") or {}
        cn = _peer_common_name(peer)
        try:
            async with asyncio.timeout(10):
                first = decode_from_hub(await ws.recv())
        except (TimeoutError, ProtocolError, ConnectionClosed) as exc:
            log.warning("dev relay: no valid hello from %s: %s", cn, exc)
            await ws.close(4400, "expected hello")
            return
        if not isinstance(first, Hello):
            await ws.close(4400, "expected hello first")
            return
        if first.hub_id != cn:
            # A hub may only speak for itself: its certificate names it.
            log.warning("dev relay: certificate for %r claims to be %r; refused", cn, first.hub_id)
            await ws.close(4403, f"certificate is for {cn!r}, not {first.hub_id!r}")
            return
        hub = HubConnection(first.hub_id, first, ws)
        old = self.hubs.get(hub.hub_id)
        if old is not None:
            old.ws.transport.abort()
        self.hubs[hub.hub_id] = hub
        self.connections += 1
        self._deliver(hub.hub_id, first)
        await ws.send(encode(Welcome(self.acked.get(hub.hub_id, 0))))
        self._connected.set()
        log.info("dev relay: hub %s connected (boot %s)", hub.hub_id, first.boot_id)
        try:
            async for frame in ws:
                await self._receive(hub, frame)
        except ConnectionClosed:
            pass
        finally:
            if hub.ack_timer is not None:
                hub.ack_timer.cancel()
            if self.hubs.get(hub.hub_id) is hub:
                del self.hubs[hub.hub_id]
            hub.closed.set()
            log.info("dev relay: hub %s disconnected", hub.hub_id)

    async def _receive(self, hub: HubConnection, frame: str | bytes) -> None:
        try:
            message = decode_from_hub(frame)
        except ProtocolError as exc:
            log.warning("dev relay: bad frame from %s: %s", hub.hub_id, exc)
            return
        if isinstance(message, Event):
            if message.seq <= self.last_seq.get(hub.hub_id, 0):
                self.duplicates += 1  # a resend of something we already hold
            else:
                self.last_seq[hub.hub_id] = message.seq
                self._put(self.events, (hub.hub_id, message))
                if self.on_message is not None:
                    self.on_message(hub.hub_id, message)
            hub.received += 1
            hub.unacked += 1
            if self.auto_ack:
                if hub.unacked >= ACK_EVERY:
                    self._flush_ack(hub)
                elif hub.ack_timer is None:
                    hub.ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._flush_ack, hub)
            return
        if isinstance(message, CertRenewal) and self._ca is not None:
            await self._renew(hub, message)
        self._deliver(hub.hub_id, message)

    def _deliver(self, hub_id: str, message: HubMessage) -> None:
        key = ""
        if isinstance(message, CommandResultMessage):
            key = message.id
        elif isinstance(message, RulesResult):
            key = message.request_id or ""
        waiter = self._waiters.pop((hub_id, message.type.value, key), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(message)
        self._put(self.messages, (hub_id, message))
        if self.on_message is not None:
            self.on_message(hub_id, message)

    def _flush_ack(self, hub: HubConnection) -> None:
        if hub.ack_timer is not None:
            hub.ack_timer.cancel()
            hub.ack_timer = None
        seq = self.last_seq.get(hub.hub_id, 0)
        hub.unacked = 0
        if seq <= self.acked.get(hub.hub_id, 0):
            return
        self.acked[hub.hub_id] = seq
        task = asyncio.get_running_loop().create_task(self._send_quietly(hub, encode(Ack(seq))))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_quietly(self, hub: HubConnection, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await hub.ws.send(text)

    async def _renew(self, hub: HubConnection, request: CertRenewal) -> None:
        assert self._ca is not None
        try:
            cert = pki.sign_csr(
                request.csr,
                *self._ca,
                dt.datetime.now(dt.UTC),
                days=self.renew_days,
                expected_cn=hub.hub_id,
            )
        except pki.CertificateProblem as exc:
            log.warning("dev relay: cannot renew %s: %s", hub.hub_id, exc)
            return
        log.info("dev relay: renewed the certificate of %s until %s", hub.hub_id, cert.not_valid_after_utc)
        await hub.ws.send(encode(Certificate(pki.pem(cert).decode("ascii"))))

    @staticmethod
    def _put(queue: asyncio.Queue[Any], item: Any) -> None:
        if queue.full():
            queue.get_nowait()  # a dev tool nobody reads from must not grow without bound
        queue.put_nowait(item)


def _peer_common_name(peercert: dict[str, Any]) -> str | None:
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
