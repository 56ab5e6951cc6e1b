"""The local control socket: how `hub-agent pair` and `hub-agent token` reach the running agent.

A unix stream socket `<data_dir>/lan.sock`, mode 0600, owned by the agent's user. Only the agent's
own user or root may talk to it; the server also checks the peer's uid (SO_PEERCRED), so a socket
mode loosened by mistake still refuses other users. Physical access to the hub (its button, or a
root shell) is the authority for pairing, which is exactly who can reach this socket.

Wire format (one exchange per connection): the client writes one JSON object and a newline, the
server answers with one JSON object and a newline.
    {"op": "pair", "seconds": 60}   -> {"ok": true, "seconds": 60}
    {"op": "tokens_changed"}        -> {"ok": true, "tokens": 3}     (reload the token table now)
    anything else                   -> {"ok": false, "error": "<sentence>"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub_agent import unixsocket
from hub_agent.lan.pairing import MAX_WINDOW
from hub_agent.unixsocket import ControlSocketInUse as ControlSocketInUse
from hub_core.errors import HubError, ProtocolError

log = logging.getLogger(__name__)

SOCKET_FILE = "lan.sock"
MAX_LINE = 4096


class AgentNotRunning(HubError):
    """Nothing answers on the control socket: the agent (or its LAN part) is not running."""


def socket_path(data_dir: Path) -> Path:
    """Where the control socket lives for this data_dir."""
    return Path(data_dir) / SOCKET_FILE


@dataclass(frozen=True, slots=True)
class PairRequest:
    """Open the pairing window for `seconds` (0 closes it)."""

    seconds: float

    def to_payload(self) -> dict[str, Any]:
        """The JSON object sent on the socket."""
        return {"op": "pair", "seconds": self.seconds}


@dataclass(frozen=True, slots=True)
class TokensChanged:
    """The token table changed on disk (made or revoked by the CLI): reload it before answering."""

    def to_payload(self) -> dict[str, Any]:
        """The JSON object sent on the socket."""
        return {"op": "tokens_changed"}


Request = PairRequest | TokensChanged


def parse_request(line: bytes) -> Request:
    """Decode one request line; raise ProtocolError naming what is wrong."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"control request longer than {MAX_LINE} bytes")
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("control request is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("control request must be a JSON object")
    op = data.get("op")
    if op == "pair":
        seconds = data.get("seconds", 60)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ProtocolError("pair: seconds must be a number")
        if not 0 <= seconds <= MAX_WINDOW:
            raise ProtocolError(f"pair: seconds must be between 0 and {MAX_WINDOW:g}")
        return PairRequest(float(seconds))
    if op == "tokens_changed":
        return TokensChanged()
    raise ProtocolError(f"unknown control op {op!r}")


def encode(payload: dict[str, Any]) -> bytes:
    """One JSON line."""
    return json.dumps(payload, separators=(",", ":")).encode("utf-8") + b"\n"


Handler = Callable[[Request], Awaitable[dict[str, Any]]]


class ControlServer:
    """Serves the control socket; `handler` answers each parsed request."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = Path(path)
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket (replacing a stale one left by a crash); raise HubError if it is in use."""
        self._server = await unixsocket.bind(self.path, self._serve, limit=MAX_LINE + 2)

    async def close(self) -> None:
        """Stop serving and remove the socket file."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(5):
                    line = await reader.readline()
            except (TimeoutError, ValueError):
                writer.write(encode({"ok": False, "error": "request too long or too slow"}))
                return
            # Checked after reading (bounded, never acted on), so a refused client sees the answer
            # instead of a broken pipe while it is still writing.
            if not unixsocket.peer_allowed(writer):
                log.warning("control socket: refused a client of another user")
                writer.write(encode({"ok": False, "error": "permission denied"}))
                return
            try:
                request = parse_request(line)
            except ProtocolError as exc:
                writer.write(encode({"ok": False, "error": str(exc)}))
                return
            try:
                reply = await self._handler(request)
            except HubError as exc:
                reply = {"ok": False, "error": str(exc)}
            writer.write(encode(reply))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def call(path: Path, request: Request, timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the running agent (blocking; for the CLI); raise AgentNotRunning or HubError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise AgentNotRunning(f"the agent is not running (nothing listens on {path})") from None
        except PermissionError:
            raise HubError(f"permission denied on {path} (run as root or as the agent's user)") from None
        try:
            sock.sendall(encode(request.to_payload()))
            data = b""
            while not data.endswith(b"\n") and len(data) <= MAX_LINE:
                chunk = sock.recv(MAX_LINE)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise HubError(f"the agent did not answer on {path} within {timeout:g} s") from None
        except OSError as exc:
            raise HubError(f"lost the connection to the agent on {path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise ProtocolError(f"the agent sent a malformed reply on {path}") from None
    if not isinstance(reply, dict):
        raise ProtocolError(f"the agent sent a malformed reply on {path}")
    if not reply.get("ok"):
        raise HubError(f"the agent refused: {reply.get('error', 'no reason given')}")
    return reply
