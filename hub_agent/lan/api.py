"""The LAN API's HTTP side: the route table, its two middlewares and the JSON handlers.

Rules of this file: authentication is default-deny. The auth middleware lets a request through
without a token only if its matched route is in the table with `public=True`; every other request,
including one for a path that does not exist, needs a valid bearer token or gets 401. Every error is
JSON `{"error": <code>, "message": <sentence>}`; a body problem names its field. Handlers never touch
the disk on the command path: tokens are checked against an in-memory cache.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import hdrs, web

from hub_agent.hub import COMMAND_TIMEOUT
from hub_agent.lan import events
from hub_agent.lan.access import LanAccess
from hub_agent.lan.ble_routes import BleRoutes
from hub_agent.lan.bodies import BODY_RULES, MAX_BODY, BodyRules, body_object, read_json
from hub_agent.lan.bodies import invalid as _invalid
from hub_agent.lan.bodies import json_kind as _json_kind
from hub_agent.lan.bodies import number_field as _number_field
from hub_agent.lan.errors import ApiError, error_response
from hub_agent.lan.inclusion_routes import InclusionRoutes
from hub_agent.lan.limits import ConnectionGate, Limits
from hub_agent.lan.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from hub_agent.lan.metrics import LanMetrics
from hub_agent.lan.pairing import FailureLimiter, PairingWindow
from hub_agent.lan.tokens import (
    TokenCache,
    list_tokens,
    revoke_token,
    touch_token,
    valid_id,
)
from hub_agent.lan.update_routes import UpdateRoutes
from hub_agent.runtime import RulesApi, Runtime
from hub_core import ratelog
from hub_core.bus import EventBus
from hub_core.errors import (
    CommandError,
    DeliveryFailed,
    DeliveryTimeout,
    InvalidCommand,
    RadioUnavailable,
    RuleError,
    RuleProblem,
    UnknownDevice,
)
from hub_core.model import Protocol

log = logging.getLogger(__name__)

API = "/api/v1"
INCLUSION_MAX_SECONDS = 254  # Zigbee permit-join's ceiling; Z-Wave inclusion is shorter in practice

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The id of the token that authenticated a request.
TOKEN_ID = web.RequestKey("token_id", str)
#: What a token that is not printable ASCII is checked as: never valid, so it counts as a failed guess.
_NOT_A_TOKEN = "not-a-token"  # noqa: S105  (a placeholder, not a secret)


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of the route table."""

    method: str
    path: str
    handler: Handler
    name: str
    public: bool = False


_COMMAND_STATUS: dict[type[CommandError], int] = {
    UnknownDevice: 404,
    InvalidCommand: 422,
    DeliveryTimeout: 504,
    RadioUnavailable: 503,
    DeliveryFailed: 502,
}


def command_status(exc: CommandError) -> int:
    """The HTTP status for a CommandError (CONTRACT section 5)."""
    for kind, status in _COMMAND_STATUS.items():
        if isinstance(exc, kind):
            return status
    return 502


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def bearer_token(request: web.Request, *, allow_subprotocol: bool) -> str | None:
    """The token from `Authorization: Bearer`, or (WebSocket only) from `hub-agent.bearer.<token>`."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return ""
        # Header bytes that are not UTF-8 arrive as surrogates: a wrong token, counted as a failed guess.
        return token if token.isascii() and token.isprintable() else _NOT_A_TOKEN
    if allow_subprotocol:
        # Browsers cannot set headers on a WebSocket; they offer the token as a subprotocol instead.
        for offered in request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, ()):
            for proto in offered.split(","):
                proto = proto.strip()
                if proto.startswith(events.BEARER_PREFIX):
                    token = proto[len(events.BEARER_PREFIX) :]
                    return token if token.isascii() and token.isprintable() else _NOT_A_TOKEN
    return None


@dataclass(slots=True)
class LanApi:
    """The state the handlers share, and the aiohttp application built from the route table."""

    runtime: Runtime
    metrics: LanMetrics
    tokens: TokenCache
    pairing: PairingWindow = field(default_factory=PairingWindow)
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    clock: Callable[[], float] = time.monotonic
    tls: bool = True
    command_timeout: float = COMMAND_TIMEOUT
    limits: Limits = field(default_factory=Limits)
    #: the server's connection gate (header clock), set while it runs
    gate: ConnectionGate | None = None
    #: commands waiting for a radio, per token
    in_flight: dict[str, int] = field(default_factory=dict)
    #: open event WebSockets by connection number
    websockets: dict[int, events.EventClient] = field(default_factory=dict)
    #: set while no events WebSocket is open (lets shutdown and tests await "all gone")
    no_clients: asyncio.Event = field(default_factory=asyncio.Event)
    _public: set[str] = field(default_factory=set)
    _connections: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _assets: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: pairing, owner checks, the Host/Origin guard (built from the fields above)
    access: LanAccess = field(init=False)

    def __post_init__(self) -> None:
        self.no_clients.set()
        self.access = LanAccess(
            self.runtime,
            tokens=self.tokens,
            pairing=self.pairing,
            limiter=self.limiter,
            metrics=self.metrics,
            clock=self.clock,
            tls=self.tls,
        )

    @property
    def bus(self) -> EventBus:
        """The hub's event bus (the events WebSocket subscribes to it)."""
        return self.runtime.bus

    def next_connection_id(self) -> int:
        """A number for log lines about one WebSocket connection."""
        return next(self._connections)

    # --- the route table ----------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Every route the server has; the auth middleware and the tests read this table."""
        return [
            Route("GET", "/", self.page, "page", public=True),
            Route("GET", "/app.js", self.page, "page_js", public=True),
            Route("GET", "/style.css", self.page, "page_css", public=True),
            Route("GET", f"{API}/health", self.health, "health", public=True),
            Route("POST", f"{API}/pair", self.pair, "pair", public=True),
            Route("GET", f"{API}/devices", self.list_devices, "devices"),
            Route("GET", f"{API}/devices/{{id}}", self.get_device, "device"),
            Route("POST", f"{API}/devices/{{id}}/commands", self.command, "command"),
            Route("GET", f"{API}/rules", self.list_rules, "rules"),
            Route("GET", f"{API}/rules/{{id}}", self.get_rule, "rule"),
            Route("PUT", f"{API}/rules/{{id}}", self.put_rule, "rule_put"),
            Route("DELETE", f"{API}/rules/{{id}}", self.delete_rule, "rule_delete"),
            Route("POST", f"{API}/inclusion", self.start_inclusion, "inclusion_start"),
            Route("DELETE", f"{API}/inclusion", self.stop_inclusion, "inclusion_stop"),
            Route("GET", f"{API}/tokens", self.list_tokens, "tokens"),
            Route("DELETE", f"{API}/tokens/{{id}}", self.delete_token, "token_delete"),
            Route("GET", f"{API}/events", self.events, "events"),
            Route("GET", "/metrics", self.metrics_text, "metrics"),
            *(Route(*entry) for entry in UpdateRoutes(self.runtime).table()),
            *(Route(*entry) for entry in BleRoutes(self.runtime).table()),
            *(Route(*entry) for entry in InclusionRoutes(self.runtime).table()),
        ]

    def build_app(self) -> web.Application:
        """The aiohttp application: middlewares, routes, security headers."""
        app = web.Application(
            middlewares=[self._errors_middleware, self.access.guard, self._auth_middleware],
            client_max_size=MAX_BODY,
        )
        for route in self.routes():
            resource = app.router.add_resource(route.path, name=route.name)
            resource.add_route(route.method, route.handler)
            if route.public:
                self._public.add(route.name)
        app[BODY_RULES] = BodyRules(lambda: self.limits.header_timeout)
        app.on_response_prepare.append(self._headers)
        app.on_shutdown.append(self._close_websockets)
        self._load_assets()
        return app

    def _load_assets(self) -> None:
        static = resources.files("hub_agent.lan") / "static"
        for path, file, content_type in (
            ("/", "index.html", "text/html"),
            ("/app.js", "app.js", "text/javascript"),
            ("/style.css", "style.css", "text/css"),
        ):
            self._assets[path] = ((static / file).read_bytes(), content_type)

    # --- middlewares --------------------------------------------------------------------------

    @web.middleware
    async def _errors_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        name = route.name if route is not None and route.name else "unmatched"
        gate = self.gate
        if gate is not None:
            gate.request_started(request.protocol)
        try:
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.code, exc.message, **exc.extra)
            if exc.status == 429:
                response.headers[hdrs.RETRY_AFTER] = str(exc.extra.get("retry_after", 60))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _HTTP_CODES.get(exc.status, "http_error")
            message = exc.reason
            detail = (exc.text or "").strip()
            if detail and detail != f"{exc.status}: {exc.reason}":
                message = f"{exc.reason}: {' '.join(detail.split())}"
            if exc.status == 413:
                message = f"body is larger than {MAX_BODY} bytes"
            response = error_response(exc.status, code, f"{message} ({request.method} {request.path})")
            if exc.status == 405:
                response.headers[hdrs.ALLOW] = exc.headers.get(hdrs.ALLOW, "")
        except Exception:
            ratelog.log(
                log,
                "lan.internal",
                logging.ERROR,
                "LAN API %s %s failed",
                request.method,
                request.path,
                exc_info=True,
            )
            response = error_response(500, "internal", "internal error; the hub's log has the details")
        finally:
            if gate is not None:
                gate.request_finished(request.protocol)
        self.metrics.requests.labels(route=name, status=str(response.status)).inc()
        return response

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is not None and resource.name in self._public:
            return await handler(request)
        client = request.remote or "?"
        now = self.clock()
        is_events = resource is not None and resource.name == "events"
        token = bearer_token(request, allow_subprotocol=is_events)
        if not token:
            # No guess was made, so this does not count against the client's failed attempts.
            raise ApiError(
                401, "unauthorized", "this endpoint needs an 'Authorization: Bearer <token>' header"
            )
        wait = self.limiter.retry_after(client, now)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many failed attempts; retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )
        # A miss may be a token the CLI or demo made a moment ago: one store lookup before refusing.
        token_id = self.tokens.check(token) or await self.access.recheck(token)
        if token_id is None:
            self.limiter.failed(client, now)
            self.metrics.auth_failures.inc()
            ratelog.log(log, "lan.bad_token", logging.INFO, "LAN API: rejected a token from %s", client)
            raise ApiError(401, "unauthorized", "the token is not valid (revoked, or never issued)")
        if self.tokens.used(token_id, now):
            self.runtime.db.submit_nowait(touch_token(token_id, time.time()))
        request[TOKEN_ID] = token_id
        return await handler(request)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        )
        headers.setdefault(hdrs.CACHE_CONTROL, "no-store")

    async def _close_websockets(self, app: web.Application) -> None:
        clients = list(self.websockets.values())
        for client in clients:
            client.request_close(events.CLOSE_GOING_AWAY, "hub shutting down")
        senders = {c.sender for c in clients if c.sender is not None}
        if senders:
            await asyncio.wait(senders, timeout=events.CLOSE_TIMEOUT + 0.5)

    def close_revoked(self) -> int:
        """Close every event WebSocket whose token is no longer valid; returns how many."""
        revoked = [c for c in self.websockets.values() if c.token_id not in self.tokens]
        for client in revoked:
            client.request_close(events.CLOSE_POLICY, "token revoked")
        self.metrics.ws_disconnects.labels(reason="revoked").inc(len(revoked))
        return len(revoked)

    # --- public handlers ----------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.StreamResponse:
        """The web page and its two assets (no build step; plain files in lan/static)."""
        body, content_type = self._assets[request.path]
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    async def health(self, request: web.Request) -> web.StreamResponse:
        """`{"status": "ok", "version", "hub_id", "api", "tls"}`; needs no token."""
        runtime = self.runtime
        return web.json_response(
            {
                "status": "ok",
                "version": runtime.version,
                "hub_id": runtime.hub_id,
                "api": API,
                "tls": self.tls,
                # Only with [ota]: "owner" once the owner trusts their own repository (docs/ota.md).
                **({"update_trust": trust} if (trust := runtime.facts.get("update_trust")) else {}),
            }
        )

    async def pair(self, request: web.Request) -> web.StreamResponse:
        """A new token for the window's code (see access.LanAccess.pair); 403 otherwise, counted."""
        return await self.access.pair(request, body_object(await read_json(request), ["name", "code"]))

    # --- devices and commands -----------------------------------------------------------------

    async def list_devices(self, request: web.Request) -> web.StreamResponse:
        """Every device's JSON, sorted by id."""
        return web.json_response([d.to_json() for d in self.runtime.hub.devices()])

    async def get_device(self, request: web.Request) -> web.StreamResponse:
        """One device's JSON, or 404."""
        device = self.runtime.hub.device(request.match_info["id"])
        if device is None:
            raise ApiError(404, "unknown_device", f"no device {request.match_info['id']!r}")
        return web.json_response(device.to_json())

    async def command(self, request: web.Request) -> web.StreamResponse:
        """Send a command; answer once the radio confirmed delivery (CONTRACT section 5)."""
        device_id = request.match_info["id"]
        data = body_object(await read_json(request), ["command", "args"], required=["command"])
        if not isinstance(data["command"], str):
            raise _invalid("command", f"command must be a string, not {_json_kind(data['command'])}")
        if "args" in data and not isinstance(data["args"], dict):
            raise _invalid("args", f"args must be an object, not {_json_kind(data['args'])}")
        source = request[TOKEN_ID]
        waiting = self.in_flight.get(source, 0)
        if waiting >= self.limits.max_commands_in_flight:
            raise ApiError(
                429,
                "too_many_commands",
                f"{waiting} commands from this token are still waiting for a radio "
                f"(at most {self.limits.max_commands_in_flight}); retry when they are answered",
                retry_after=1,
            )
        self.in_flight[source] = waiting + 1
        started = time.perf_counter()
        try:
            result = await self.runtime.hub.execute(
                device_id, data["command"], data.get("args"), timeout=self.command_timeout
            )
        except CommandError as exc:
            self.metrics.command_seconds.labels(result="error").observe(time.perf_counter() - started)
            extra = {"field": "command"} if isinstance(exc, InvalidCommand) else {}
            raise ApiError(command_status(exc), exc.code, str(exc), **extra) from None
        finally:
            left = self.in_flight.pop(source) - 1
            if left:
                self.in_flight[source] = left
        self.metrics.command_seconds.labels(result="ok").observe(time.perf_counter() - started)
        return web.json_response(result.to_json())

    # --- inclusion ----------------------------------------------------------------------------

    def _protocol(self, value: Any) -> Protocol:
        choices = ", ".join(p.value for p in Protocol)
        if not isinstance(value, str):
            raise _invalid("protocol", f"protocol must be one of {choices}, not {_json_kind(value)}")
        try:
            return Protocol(value)
        except ValueError:
            raise _invalid("protocol", f"protocol must be one of {choices}, not {value!r}") from None

    async def start_inclusion(self, request: web.Request) -> web.StreamResponse:
        """Let devices join one radio for `seconds` (default 60)."""
        allowed = ["protocol", "seconds", "security"]
        data = body_object(await read_json(request), allowed, required=["protocol"])
        protocol = self._protocol(data["protocol"])
        seconds = _number_field(data, "seconds", 60, 1, INCLUSION_MAX_SECONDS)
        if "security" in data or protocol is Protocol.ZWAVE:  # "auto" (the default) | "none", CONTRACT 9.3
            InclusionRoutes(self.runtime).security_option(protocol, data.get("security"))
        await self._set_inclusion(protocol, seconds)
        shown = int(seconds) if seconds.is_integer() else seconds
        return web.json_response({"status": "ok", "protocol": protocol.value, "seconds": shown})

    async def stop_inclusion(self, request: web.Request) -> web.StreamResponse:
        """Stop inclusion on one radio, or on every running radio when no protocol is given."""
        data = body_object(await read_json(request), ["protocol"])
        if "protocol" in data:
            protocols = [self._protocol(data["protocol"])]
        else:
            protocols = [p for p in self.runtime.hub.radios if self._running(p)]
        for protocol in protocols:
            await self._set_inclusion(protocol, 0)
        return web.json_response({"status": "ok", "protocols": [p.value for p in protocols]})

    def _running(self, protocol: Protocol) -> bool:
        try:
            self.runtime.hub.radio_for(protocol)
        except RadioUnavailable:
            return False
        return True

    async def _set_inclusion(self, protocol: Protocol, seconds: float) -> None:
        try:
            await self.runtime.hub.set_inclusion(protocol, seconds)
        except CommandError as exc:
            raise ApiError(command_status(exc), exc.code, str(exc)) from None
        except NotImplementedError as exc:
            raise ApiError(501, "not_supported", str(exc) or f"{protocol.value} has no inclusion") from None

    # --- rules --------------------------------------------------------------------------------

    def _rules(self) -> RulesApi:
        rules = self.runtime.rules
        if rules is None:
            raise ApiError(503, "rules_unavailable", "the rules engine is not running on this hub")
        return rules

    async def list_rules(self, request: web.Request) -> web.StreamResponse:
        """Every rule with its runtime fields (`last_fired`, `last_error`), streamed one rule at a time
        so the answer never exists in memory as a whole (rules are bounded in count and size)."""
        rules = self._rules().list_rules()
        response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "application/json; charset=utf-8"})
        await response.prepare(request)
        separator = b"["
        for rule in rules:
            await response.write(separator + json.dumps(rule, separators=(",", ":")).encode())
            separator = b","
        await response.write(b"[]" if separator == b"[" else b"]")
        await response.write_eof()
        return response

    async def get_rule(self, request: web.Request) -> web.StreamResponse:
        """One rule, or 404."""
        rule_id = request.match_info["id"]
        rule = self._rules().get_rule(rule_id)
        if rule is None:
            raise ApiError(404, "unknown_rule", f"no rule {rule_id!r}")
        return web.json_response(rule)

    async def put_rule(self, request: web.Request) -> web.StreamResponse:
        """Create or replace a rule; 422 listing every problem the validator found."""
        rules = self._rules()
        rule_id = request.match_info["id"]
        data = await read_json(request)
        if not isinstance(data, dict):
            raise _invalid("$", f"body must be a rule object, not {_json_kind(data)}")
        if "id" in data and data["id"] != rule_id:
            problem = RuleProblem("$.id", f"id {data['id']!r} does not match the URL's {rule_id!r}")
            raise ApiError(422, "invalid_rule", str(problem), problems=[_problem_json(problem)], field="id")
        try:
            stored = await rules.put_rule({**data, "id": rule_id})
        except RuleError as exc:
            problems = [_problem_json(p) for p in exc.problems]
            field_name = exc.problems[0].path if exc.problems else "$"
            raise ApiError(422, "invalid_rule", str(exc), problems=problems, field=field_name) from None
        return web.json_response(stored)

    async def delete_rule(self, request: web.Request) -> web.StreamResponse:
        """Delete a rule and its pending actions, or 404."""
        rule_id = request.match_info["id"]
        if not await self._rules().delete_rule(rule_id):
            raise ApiError(404, "unknown_rule", f"no rule {rule_id!r}")
        return web.json_response({"status": "ok", "id": rule_id})

    # --- tokens (an extension: revoke from the app without a shell on the hub) ----------------------

    async def list_tokens(self, request: web.Request) -> web.StreamResponse:
        """Every token's id, name, created, last_used and owner (never the secret); owner only."""
        self.access.require_owner(request.get(TOKEN_ID))
        infos = await self.runtime.db.read(list_tokens)
        return web.json_response([i.to_json() for i in infos])

    async def delete_token(self, request: web.Request) -> web.StreamResponse:
        """Revoke a token (owner only); it stops working at once, also for open WebSockets."""
        self.access.require_owner(request.get(TOKEN_ID))
        token_id = request.match_info["id"]
        if not valid_id(token_id) or not await self.runtime.db.write(revoke_token(token_id)):
            raise ApiError(404, "unknown_token", f"no token {token_id!r}")
        self.tokens.discard(token_id)
        self.close_revoked()
        log.info("LAN API: token %s revoked by token %s", token_id, request.get(TOKEN_ID))
        return web.json_response({"status": "ok", "id": token_id})

    # --- events and metrics -------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The events WebSocket."""
        return await events.serve_events(self, request, request[TOKEN_ID])

    async def metrics_text(self, request: web.Request) -> web.StreamResponse:
        """Prometheus text format."""
        response = web.Response(body=self.metrics.render())
        response.headers[hdrs.CONTENT_TYPE] = METRICS_CONTENT_TYPE
        return response


def _problem_json(problem: RuleProblem) -> dict[str, str]:
    return {"path": problem.path, "message": problem.message}
