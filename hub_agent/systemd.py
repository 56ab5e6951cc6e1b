"""systemd integration without libsystemd: sd_notify over the NOTIFY_SOCKET datagram socket.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the agent runs the same anywhere.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send `message` (e.g. "READY=1") to the service manager; False if there is none."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("sd_notify %r failed: %s", message, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """How often to ping the watchdog (half of WATCHDOG_USEC), or None when it is not enabled."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
