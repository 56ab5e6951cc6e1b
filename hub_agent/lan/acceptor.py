"""The LAN listener: accepts one connection at a time, so a flood never holds more files than it is allowed.

asyncio's own server accepts up to `backlog` queued sockets per wake-up and closes the refused ones
only a loop iteration or two later. With the connection budget full, a burst that queued while the
loop was busy (a loaded hub) briefly held a backlog's worth of extra files, accept() failed with
EMFILE, and asyncio logged a traceback each time. Here every accepted socket is handed to the gate,
which admits or refuses (and closes) it, before the next accept().
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

from hub_core import ratelog
from hub_core.tasks import TaskGroup

log = logging.getLogger(__name__)

#: Connections the kernel may queue before the agent accepts them: they cost no file until accepted,
#: and a burst beyond the queue waits a second for the SYN to be resent (100 phones at once must fit).
BACKLOG = 256
#: How long accepting pauses when the process or the system is out of files or memory.
RESOURCE_PAUSE = 0.5
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def bind(host: str | None, port: int, *, backlog: int = BACKLOG) -> list[socket.socket]:
    """Listening, non-blocking sockets for `host` (every interface when empty), or the OSError of the bind."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # One socket per family, as asyncio does: "::" must not also claim the IPv4 port.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Acceptor:
    """Serves `factory`'s protocol on listening sockets until closed; one accept() in flight per socket."""

    def __init__(self, sockets: list[socket.socket], factory: Callable[[], asyncio.Protocol]) -> None:
        self.sockets = sockets
        self.factory = factory
        self.tasks = TaskGroup("lan-accept", limit=len(sockets))

    def start(self) -> None:
        """Begin accepting on every socket."""
        for sock in self.sockets:
            self.tasks.spawn(self._serve(sock), f"accept {sock.getsockname()!r}")

    async def close(self) -> None:
        """Stop accepting and close the listening sockets (connections already made stay open)."""
        await self.tasks.close()
        for sock in self.sockets:
            sock.close()

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    continue  # the peer gave up before we accepted (ECONNABORTED and the like)
                ratelog.log(
                    log,
                    "lan.accept.resources",
                    logging.WARNING,
                    "LAN API: cannot accept a connection (%s); pausing %g s",
                    exc.strerror or exc,
                    RESOURCE_PAUSE,
                )
                await asyncio.sleep(RESOURCE_PAUSE)
                continue
            try:
                # Returns once the gate's connection_made ran: a refused socket is already closing.
                await loop.connect_accepted_socket(self.factory, conn)
            except OSError:
                conn.close()  # the peer reset it in between; nothing was counted
