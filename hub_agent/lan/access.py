"""Who may use the LAN API beyond "has a valid token": pairing with a code, owner-only token
management, the Host/Origin/content-type guard that keeps other sites' web pages out, and the one
store lookup that makes a token created behind the server's back (CLI, demo) valid at once.

Rules of this file: no clock is read here (the server's monotonic clock is passed in); every refusal
is an ApiError with a sentence saying what to do; docs/security.md gives the reasoning (DNS
rebinding, the pairing race, why existing tokens are not owners).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from hub_agent.lan.errors import ApiError
from hub_agent.lan.metrics import LanMetrics
from hub_agent.lan.pairing import CODE_DIGITS, FailureLimiter, PairingWindow
from hub_agent.lan.tokens import (
    TokenCache,
    clean_name,
    limit_message,
    load_hash,
    parse_token,
    try_create_token,
)
from hub_agent.runtime import Runtime
from hub_core.model import Notification

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The `rule` field of the notifications the hub itself sends about pairing.
PAIRING_NOTICE = "lan-pairing"
#: Store lookups for unknown token ids: at most this many per second (burst the same), so guessing
#: ids cannot turn into a flood of reads; a token made a moment ago by the CLI needs one.
LOOKUPS_PER_SECOND = 20.0
JSON_TYPE = "application/json"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def mdns_label(hub_id: str) -> str:
    """The host label the mDNS advertisement uses (see mdns.Advertisement.host_name)."""
    return re.sub(r"[^a-z0-9-]+", "-", hub_id.lower()).strip("-")[:63] or "hub-agent"


def hub_names(hub_id: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names that mean this hub: localhost, its mDNS name, the name in its LAN certificate
    (`<hub id>.local`), the machine's host name."""
    host = socket.gethostname().lower().rstrip(".")
    names = {"localhost", f"{mdns_label(hub_id)}.local", f"{hub_id.lower()}.local", host}
    names.add(f"{host.split('.')[0]}.local")
    names.update(name.lower().rstrip(".") for name in extra)
    return frozenset(n for n in names if n)


def _split_host(value: str) -> str | None:
    """The host part of a Host header (port and IPv6 brackets removed), lower case; None if malformed."""
    value = value.strip().lower()
    if not value or len(value) > 255:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not re.fullmatch(r":\d{1,5}", value[end + 1 :])):
            return None
        return value[1:end]
    host, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return host.rstrip(".")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=256)  # a client sends the same Host every time; bounded against variety
def host_allowed(host_header: str | None, local_address: str | None, names: frozenset[str]) -> bool:
    """Whether a Host header names this hub: a loopback or the connection's own address, or a hub name.

    A DNS-rebinding page reaches the hub under the attacker's host name, which is never in `names`;
    an address literal cannot be rebound, so the address the connection arrived on is safe.
    """
    if host_header is None:
        return False
    host = _split_host(host_header)
    if host is None:
        return False
    literal = _address(host)
    if literal is not None:
        own = _address(local_address) if local_address else None
        return literal.is_loopback or literal == own
    return host in names


def origin_allowed(origin: str | None, host_header: str | None, tls: bool) -> bool:
    """Whether an Origin header (absent for non-browser clients) is the hub's own page."""
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    scheme = "https" if tls else "http"
    return (
        parts.scheme == scheme
        and host_header is not None
        and parts.netloc.lower() == host_header.strip().lower()
        and not parts.path.strip("/")
    )


class LanAccess:
    """The guard middleware, the pairing and token-management rules, and the token re-check."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        tokens: TokenCache,
        pairing: PairingWindow,
        limiter: FailureLimiter,
        metrics: LanMetrics,
        clock: Callable[[], float],
        tls: bool,
        names: Iterable[str] = (),
    ) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.pairing = pairing
        self.limiter = limiter
        self.metrics = metrics
        self.clock = clock
        self.tls = tls
        self.names = hub_names(runtime.hub_id, names)
        self._lookup_budget = LOOKUPS_PER_SECOND
        self._lookup_at: float | None = None

    # --- the guard: Host, Origin, content type, no CORS ------------------------------------------

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse requests for other host names, from other origins, or with non-JSON bodies."""
        host = request.headers.get(hdrs.HOST)
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        local = str(sockname[0]) if sockname else None
        if not host_allowed(host, local, self.names):
            raise ApiError(
                421,
                "wrong_host",
                "this hub answers only to its own addresses and names (Host header "
                f"{_shown(host)}); use its IP address or {mdns_label(self.runtime.hub_id)}.local",
            )
        if not origin_allowed(request.headers.get(hdrs.ORIGIN), host, self.tls):
            raise ApiError(
                403, "wrong_origin", "requests from other web sites are refused (no CORS on this hub)"
            )
        # The one state-changing route without a token: a cross-site form or `text/plain` fetch
        # could reach it without a CORS preflight, an `application/json` one cannot. Routes with a
        # token need an Authorization header, which no cross-site request can send without CORS.
        resource = request.match_info.route.resource
        pairing = resource is not None and resource.name == "pair"
        if pairing and request.method in _UNSAFE and request.content_type != JSON_TYPE:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"the body must be JSON with 'Content-Type: {JSON_TYPE}', "
                f"not {_shown(request.headers.get(hdrs.CONTENT_TYPE))}",
            )
        return await handler(request)

    # --- tokens -------------------------------------------------------------------------------

    async def recheck(self, token: str) -> str | None:
        """After a cache miss: look an unknown token id up in the store once; its id if now valid."""
        token_id = parse_token(token)
        if token_id is None or token_id in self.tokens or not self._spend_lookup():
            return None
        row = await self.runtime.db.read(load_hash(token_id))
        if row is None:
            return None
        self.tokens.add_row(token_id, row)
        return self.tokens.check(token)

    def _spend_lookup(self) -> bool:
        now = self.clock()
        if self._lookup_at is not None:
            refill = (now - self._lookup_at) * LOOKUPS_PER_SECOND
            self._lookup_budget = min(LOOKUPS_PER_SECOND, self._lookup_budget + max(0.0, refill))
        self._lookup_at = now
        if self._lookup_budget < 1:
            return False
        self._lookup_budget -= 1
        return True

    def require_owner(self, token_id: str | None) -> None:
        """Raise 403 unless the request's token is an owner token."""
        if token_id is None or not self.tokens.is_owner(token_id):
            raise ApiError(
                403,
                "owner_only",
                "only the hub owner's token may list or revoke tokens "
                "(or use 'hub-agent token list/revoke' on the hub)",
            )

    # --- pairing ------------------------------------------------------------------------------

    def _locked_out(self, client: str, now: float) -> None:
        wait = self.limiter.retry_after(client, now)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many failed attempts; retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )

    def _failed(self, client: str, now: float) -> None:
        self.limiter.failed(client, now)
        self.metrics.auth_failures.inc()

    async def pair(self, request: web.Request, data: dict[str, object]) -> web.StreamResponse:
        """A token for whoever shows this window's code; the window then closes (one per press)."""
        client = request.remote or "?"
        now = self.clock()
        self._locked_out(client, now)
        if not self.pairing.is_open(now):
            self._failed(client, now)
            raise ApiError(
                403,
                "pairing_closed",
                "pairing is not open: press the hub's button (or run 'hub-agent pair'), then send "
                "the code it shows within 60 s",
            )
        if not self.pairing.check_code(data.get("code"), now):
            self._failed(client, now)
            if not self.pairing.is_open(now):
                self._notify(f"pairing closed after {self.pairing.wrong} wrong codes (last from {client})")
            raise ApiError(
                403,
                "wrong_code",
                f"the pairing code is missing or wrong: send the {CODE_DIGITS} digits "
                "'hub-agent pair' printed as \"code\"",
                field="code",
            )
        try:
            name = clean_name(data.get("name", f"paired from {client}"))
        except ValueError as exc:
            raise ApiError(422, "invalid_body", str(exc), field="name") from None
        # Consume the window before awaiting the store, so two calls with the code get one token.
        self.pairing.paired_one()
        new = await self.runtime.db.write(try_create_token(name))
        if new is None:
            raise ApiError(409, "too_many_tokens", limit_message())
        self.tokens.add(new.info, new.token)
        role = "owner " if new.info.owner else ""
        log.warning("LAN API: paired %s token %s %r from %s", role, new.info.id, name, client)
        self._notify(f"new {role}token {new.info.id} {name!r} paired from {client}")
        return web.json_response({"token": new.token, **new.info.to_json()})

    def _notify(self, message: str) -> None:
        """Pairing is security-relevant: an event on the bus (LAN clients, cloud) for the household."""
        self.runtime.bus.publish(Notification(PAIRING_NOTICE, message))


def _shown(value: str | None) -> str:
    """A header value for an error message: quoted, cut short, only printable ASCII."""
    if value is None:
        return "missing"
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in value[:80])
    return repr(cleaned)
