"""How the cloud link classifies a connection's end: refused identity, dead peer, clean close.

Rules of this file: pure functions over exceptions (no I/O). `is_auth_failure` decides between the
long auth back-off and the normal one, so it looks through causes and exception groups.
"""

from __future__ import annotations

import asyncio
import ssl
import sys

from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus, WebSocketException

from hub_core.errors import HubError

#: The link's worst-case time to notice a dead peer (CONTRACT section 7).
LIVENESS_BUDGET = 30.0


class AuthFailure(HubError):
    """The cloud refused the hub's identity, or the hub refused the cloud's: retrying soon is pointless."""


class CloudClosed(HubError):
    """The cloud closed the connection normally (e.g. going away for a restart)."""


class LinkDead(HubError):
    """The peer stopped answering pings: the connection is half-open."""


def pong_timeout(ping_interval: float) -> float:
    """How long to wait for a pong, so that interval + timeout stays within the 30 s budget."""
    return max(1.0, min(ping_interval, LIVENESS_BUDGET - ping_interval))


def _mqtt_refused(exc: BaseException) -> bool:
    """True if `exc` is the MQTT broker refusing the hub's identity."""
    # An MQTT error can only exist once the MQTT transport was imported; a WebSocket-only hub never
    # loads aiomqtt and paho (~3 MB) just to classify its errors.
    mqtt = sys.modules.get("hub_agent.cloud.mqtt")
    return mqtt is not None and mqtt.refused_code(exc) is not None


def is_auth_failure(exc: BaseException) -> bool:
    """True if `exc` (or what caused it) means the TLS identities or the hub's authorisation failed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError | AuthFailure):
            return True
        if _mqtt_refused(current):
            return True
        if isinstance(current, ssl.SSLError) and "ALERT" in str(current.reason or "").upper():
            # The server rejected our certificate (TLS 1.3 reports it as an alert after the handshake).
            return True
        if isinstance(current, InvalidStatus) and current.response.status_code in (401, 403):
            return True
        if (
            isinstance(current, ConnectionClosed)
            and current.rcvd is not None
            and current.rcvd.code
            in (
                1008,
                4401,
                4403,
            )
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ssl.SSLError | OSError | WebSocketException | TimeoutError):
        return f"{type(exc).__name__}: {text}"
    return text


def closed_before_http(exc: BaseException) -> bool:
    """The server completed TLS and then hung up without an HTTP response."""
    return isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError)


def unwrap(exc: BaseException) -> BaseException:
    """The one interesting error out of a TaskGroup's ExceptionGroup (cancellation passes through)."""
    while isinstance(exc, BaseExceptionGroup):
        interesting = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (interesting or list(exc.exceptions))[0]
    return exc
