"""`LanServer`: the supervised part that serves the LAN API until cancelled, then closes cleanly.

Start order: certificate (first start makes it), token cache from the store, HTTP(S) listener,
control socket, `started` set, then mDNS (announcing takes about a second of probing and must not
delay local control). Stop order is the reverse; open WebSockets get close code 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import resource
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub_agent.config import LanSection
from hub_agent.lan import control, tls
from hub_agent.lan.acceptor import Acceptor, bind
from hub_agent.lan.api import API, LanApi
from hub_agent.lan.control import ControlServer, ControlSocketInUse, PairRequest, Request, TokensChanged
from hub_agent.lan.limits import AiohttpLog, ConnectionGate, Limits
from hub_agent.lan.metrics import LanMetrics
from hub_agent.lan.pairing import FailureLimiter, PairingWindow
from hub_agent.lan.tokens import TokenCache, load_hashes
from hub_agent.runtime import Runtime
from hub_core import ratelog
from hub_core.errors import HubError, ServiceUnavailable

if TYPE_CHECKING:
    from hub_agent.lan.mdns import Advertiser

log = logging.getLogger(__name__)

#: Safety net for token changes made behind the agent's back (the CLI also pokes the control socket).
TOKEN_RELOAD_INTERVAL = 30.0
SHUTDOWN_TIMEOUT = 2.0
#: File descriptors kept for everything but LAN connections (store, radios, cloud, logs, mDNS; a
#: running agent holds about 11, and the acceptor at most one refused connection beyond the budget).
FD_RESERVE = 128
MIN_CONNECTIONS = 16


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def section_limits(section: LanSection) -> Limits:
    """The limits `[lan]` sets (the others keep their defaults)."""
    return Limits(
        header_timeout=section.header_timeout,
        max_connections=section.max_connections,
        max_connections_per_client=section.max_connections_per_client,
        max_event_clients=section.max_event_clients,
    )


def fit_fd_budget(limits: Limits) -> Limits:
    """`limits` with max_connections lowered to what the process may open (RLIMIT_NOFILE less a reserve
    for the store, radios and cloud), so accept() never fails with EMFILE, which asyncio logs each time.
    A soft limit below what the budget needs is first raised towards the hard one (as the unit would)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = limits.max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want and (hard == resource.RLIM_INFINITY or hard > soft):
        raised = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # keep the soft limit; the budget is fitted below it
    budget = soft - FD_RESERVE if soft != resource.RLIM_INFINITY else limits.max_connections
    if limits.max_connections <= budget:
        return limits
    fitted = max(MIN_CONNECTIONS, budget)
    log.warning(
        "LAN API: [lan] max_connections=%d does not fit the open-file limit %d; using %d "
        "(the systemd unit sets LimitNOFILE=4096)",
        limits.max_connections,
        soft,
        fitted,
    )
    return replace(limits, max_connections=fitted)


class LanServer:
    """The LAN API as a Part: HTTPS + WebSocket, pairing, tokens, mDNS, metrics."""

    name = "lan"

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], float] = time.monotonic,
        limiter: FailureLimiter | None = None,
    ) -> None:
        self.runtime = runtime
        self.section = runtime.config.lan or LanSection()
        self.data_dir = runtime.config.hub.data_dir
        self.started = asyncio.Event()
        self.bound_port: int | None = None
        self.url: str | None = None
        self.fingerprint: str | None = None
        self.certificate: tls.Certificate | None = None
        self.tokens = TokenCache()
        self.pairing = PairingWindow()
        self.clock = clock
        self.metrics = LanMetrics(runtime.hub)
        self.api = LanApi(
            runtime=runtime,
            metrics=self.metrics,
            tokens=self.tokens,
            pairing=self.pairing,
            limiter=limiter if limiter is not None else FailureLimiter(),
            clock=clock,
            tls=self.section.tls,
            limits=section_limits(self.section),
        )
        self.advertiser: Advertiser | None = None
        self.control_path = control.socket_path(self.data_dir)

    async def run(self) -> None:
        """Serve until cancelled."""
        section = self.section
        context: ssl.SSLContext | None = None
        if not section.tls and not _loopback(section.host):
            log.warning("LAN API without TLS on %s: tokens cross the network in clear text", section.host)
        if section.tls:
            self.certificate = await asyncio.to_thread(
                tls.ensure_certificate, self.data_dir, self.runtime.hub_id
            )
            self.fingerprint = self.certificate.fingerprint
            context = tls.server_context(self.certificate)
        await self.reload_tokens()
        limits = self.api.limits = fit_fd_budget(self.api.limits)
        runner = web.AppRunner(
            self.api.build_app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            logger=AiohttpLog(),
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            max_headers=limits.max_headers,
            keepalive_timeout=limits.header_timeout,
            # An unread body is not drained (aiohttp's default keeps reading it for 10 s): close instead.
            lingering_time=0,
        )
        await runner.setup()
        assert runner.server is not None
        # Our own listener instead of web.TCPSite: every connection passes the gate (limits.py) first.
        gate = ConnectionGate(limits, runner.server, context, refused=self._refused)
        self.api.gate = gate
        control_server = ControlServer(self.control_path, self._control)
        listener: Acceptor | None = None
        try:
            try:
                listener = Acceptor(bind(section.host or None, section.port), gate)
            except OSError as exc:
                raise _bind_failed(section.host, section.port, exc) from exc
            listener.start()
            self.bound_port = int(listener.sockets[0].getsockname()[1])
            self.url = self._url(self.bound_port)
            try:
                await control_server.start()
            except ControlSocketInUse:
                raise  # two agents on one data_dir would corrupt each other's state: do not serve
            except (HubError, OSError) as exc:
                # Without the socket, `hub-agent pair` cannot reach us, but local control must go on.
                log.error("control socket unavailable (%s); `hub-agent pair` will not work", exc)
            self.runtime.facts["lan_url"] = self.url
            self.runtime.facts["lan_fingerprint"] = self.fingerprint
            log.info("LAN API listening on %s (TLS fingerprint %s)", self.url, self.fingerprint or "none")
            self.started.set()
            if section.mdns:
                await self._announce(self.bound_port)
            while True:
                await asyncio.sleep(TOKEN_RELOAD_INTERVAL)
                await self.reload_tokens()
                ratelog.LIMITER.flush()  # the summaries of floods that have stopped
        finally:
            self.started.clear()
            if self.advertiser is not None:
                with contextlib.suppress(Exception):
                    await self.advertiser.close()
                self.advertiser = None
            await control_server.close()
            if listener is not None:
                await listener.close()
            await gate.close()
            await runner.cleanup()
            self.api.gate = None
            self.runtime.facts.pop("lan_url", None)

    def _refused(self, reason: str) -> None:
        self.metrics.refused.labels(reason=reason).inc()

    def _url(self, port: int) -> str:
        host = self.section.host
        if host in ("0.0.0.0", ""):  # noqa: S104  (comparing, not binding)
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.section.tls else 'http'}://{host}:{port}/"

    async def _announce(self, port: int) -> None:
        # Imported here: zeroconf (~3 MB RSS) is loaded only by a hub that announces itself.
        from hub_agent.lan.mdns import Advertisement, Advertiser

        advertiser = Advertiser(
            Advertisement(
                hub_id=self.runtime.hub_id,
                version=self.runtime.version,
                port=port,
                api=API,
                fingerprint=self.fingerprint,
                tls=self.section.tls,
            ),
            self.section.host,
        )
        self.advertiser = advertiser  # set first: run()'s cleanup must close it even mid-start
        try:
            await advertiser.start()
        except (OSError, HubError, RuntimeError) as exc:
            # No multicast on this network is no reason to stop local control; the app can be
            # pointed at the address by hand.
            log.warning("mDNS: cannot announce the LAN API: %s", exc)
            self.advertiser = None

    async def reload_tokens(self) -> int:
        """Re-read the token table; revoked tokens stop working and their WebSockets close."""
        rows = await self.runtime.db.read(load_hashes)
        self.tokens.replace(rows)
        self.api.close_revoked()
        return len(rows)

    async def _control(self, request: Request) -> dict[str, Any]:
        if isinstance(request, PairRequest):
            seconds = self.pairing.open(request.seconds, self.clock())
            if seconds:
                log.info("pairing open for %g s", seconds)
            else:
                log.info("pairing closed")
            return {"ok": True, "seconds": seconds, "code": self.pairing.code}
        if isinstance(request, TokensChanged):
            count = await self.reload_tokens()
            return {"ok": True, "tokens": count}
        raise HubError(f"unsupported control request {request!r}")


def _bind_failed(host: str, port: int, exc: OSError) -> ServiceUnavailable:
    """The one-line error for a LAN listen address that cannot be bound, with what to do about it."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ServiceUnavailable(
            f"LAN API: {where} is already in use (another hub-agent, or another program)",
            hint="stop it or choose another port with [lan] listen",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ServiceUnavailable(
            f"LAN API: {where} is not an address of this machine", hint="fix [lan] listen"
        )
    if exc.errno == errno.EACCES:
        return ServiceUnavailable(
            f"LAN API: not allowed to listen on {where}", hint="use a port above 1023 or grant the capability"
        )
    return ServiceUnavailable(f"LAN API: cannot listen on {where}: {exc.strerror or exc}")
