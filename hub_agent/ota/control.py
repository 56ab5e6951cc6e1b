"""The update control socket `<data_dir>/ota.sock`: how `hub-agent update ...` reaches the running agent.

Same rules as the LAN control socket (hub_agent.lan.control): a unix stream socket, mode 0600, peer uid
checked (SO_PEERCRED: the agent's own user or root); one JSON line in, one JSON line out.
    {"op": "status"} | {"op": "check"} | {"op": "install", "version": "1.2.0" | null}
    {"op": "mark_good"} | {"op": "trust", "repository": "https://...", "root": "<root.json text>"}
Answers are `{"ok": true, "status": {...}}` or `{"ok": false, "error": "<sentence>"}`. A line is at most
MAX_LINE bytes (an owner's root metadata fits).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub_agent import unixsocket
from hub_agent.ota.errors import OtaError
from hub_core.errors import HubError

log = logging.getLogger(__name__)

SOCKET_FILE = "ota.sock"
MAX_LINE = 300 * 1024
OPS = ("status", "check", "install", "mark_good", "trust")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def socket_path(data_dir: Path) -> Path:
    """Where the update control socket lives."""
    return Path(data_dir) / SOCKET_FILE


def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request; raise OtaError naming what is wrong."""
    if len(line) > MAX_LINE:
        raise OtaError(f"request longer than {MAX_LINE} bytes")
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise OtaError("request is not JSON") from None
    if not isinstance(data, dict) or data.get("op") not in OPS:
        raise OtaError(f"request must be an object with op one of {', '.join(OPS)}")
    for key in ("version", "repository", "root"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise OtaError(f"{key} must be a string")
    if data["op"] == "trust" and not (data.get("repository") and data.get("root")):
        raise OtaError("trust needs repository and root")
    return data


class ControlServer:
    """Serves `path` with `handler` until closed."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket, replacing only a stale one; raise HubError if another agent serves it."""
        self._server = await unixsocket.bind(self.path, self._serve, limit=MAX_LINE + 2)

    async def close(self) -> None:
        """Stop serving and remove the socket."""
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
                reply = await self._answer(line, writer)
            except (TimeoutError, ValueError):
                reply = {"ok": False, "error": "request too long or too slow"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> dict[str, Any]:
        if not unixsocket.peer_allowed(writer):
            log.warning("update socket: refused a client of another user")
            return {"ok": False, "error": "permission denied"}
        try:
            return {"ok": True, "status": await self._handler(parse_request(line))}
        except HubError as exc:
            return {"ok": False, "error": str(exc)}


def call(path: Path, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one request (blocking, for the CLI); return the status or raise HubError with the reason."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise HubError(f"the agent is not running with [ota] (nothing listens on {path})") from None
        except PermissionError:
            raise HubError(f"permission denied on {path} (run as root or as the agent's user)") from None
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n") and len(data) <= MAX_LINE:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise HubError(f"the agent did not answer on {path} within {timeout:g} s") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise HubError(f"the agent sent a malformed reply on {path}") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error", "no reason given") if isinstance(reply, dict) else "malformed reply"
        raise HubError(f"the agent refused: {error}")
    status = reply.get("status")
    return status if isinstance(status, dict) else {}
