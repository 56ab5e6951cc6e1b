"""Binding the agent's local control sockets and checking who talks to them (lan.sock, ota.sock).

One place for what both sockets must get right: a path that fits `sun_path`, never replacing a file
that is not a socket, refusing to steal a socket another live agent still serves (two agents on one
data_dir would corrupt each other's state), mode 0600, and the peer's uid from SO_PEERCRED.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from hub_core.errors import HubError

#: sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_PATH = 107

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ControlSocketInUse(HubError):
    """Another live process already serves this control socket (a second agent on the same data_dir)."""


async def bind(path: Path, serve: Serve, *, limit: int) -> asyncio.AbstractServer:
    """Serve `path` (mode 0600) with `serve`, replacing only a stale socket a crash left behind."""
    if len(os.fsencode(path)) > MAX_PATH:
        raise HubError(f"control socket path {path} is longer than {MAX_PATH} bytes")
    try:
        mode: int | None = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None:
        if not stat.S_ISSOCK(mode):
            raise HubError(f"{path} exists and is not a socket; refusing to replace it")
        if await _answers(path):
            raise ControlSocketInUse(f"another agent is already serving {path}")
        os.unlink(path)
    os.makedirs(path.parent, exist_ok=True)
    server = await asyncio.start_unix_server(serve, path=str(path), limit=limit)
    # The peer-uid check is what enforces access; the mode keeps other users out of the inode.
    os.chmod(path, 0o600)
    return server


def peer_allowed(writer: asyncio.StreamWriter) -> bool:
    """Whether the connected peer is root or the agent's own user (True where SO_PEERCRED is absent)."""
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return True
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (0, os.geteuid())


async def _answers(path: Path) -> bool:
    try:
        _reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return True
