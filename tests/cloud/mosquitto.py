"""A real Debian mosquitto for the MQTT tests and the fleet benchmark, started per test on loopback.

The broker has an MQTT/TLS listener with `require_certificate true` and `use_identity_as_username
true` (the certificate's CN is the MQTT user) and the ACL `pattern readwrite hubs/%u/#`, so a hub
reaches only its own topics; the user `cloud` (a client certificate with CN "cloud") reads and
writes every hub's topics. With `plain=True` it also opens a plain TCP listener without identity,
for the WebSocket bridge (Debian's mosquitto 2.0.11 is built without websockets). Persistence is
on, so sessions and queued messages survive `restart()`. The broker runs as root (`user root`)
because it must read key files in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from hub_agent.cloud import pki
from hub_agent.cloud.devcloud import DevPki

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
CLOUD_USER = "cloud"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_identity(paths: DevPki, name: str) -> tuple[Path, Path]:
    """A client certificate and key with CN `name`, issued by the dev CA (for the cloud or a 2nd hub)."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue(
        pki.load_certificate(paths.ca_cert),
        pki.load_key(paths.ca_key),
        key.public_key(),
        name,
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=30),
        client=True,
    )
    cert_path, key_path = paths.folder / f"{name}.crt", paths.folder / f"{name}.key"
    pki.write_atomically(cert_path, pki.pem(cert))
    pki.write_private_key(key_path, key)
    return cert_path, key_path


@dataclass
class Broker:
    """One mosquitto process and how to reach it."""

    folder: Path
    paths: DevPki
    port: int
    plain_port: int | None
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    def config(self) -> str:
        acl = self.folder / "acl"
        acl.write_text(f"user {CLOUD_USER}\ntopic readwrite hubs/#\n\npattern readwrite hubs/%u/#\n")
        lines = [
            "user root",
            "per_listener_settings true",
            "persistence true",
            f"persistence_location {self.folder}/",
            "autosave_interval 1",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",  # for the "running" line start() waits for
            "max_inflight_messages 256",
            "set_tcp_nodelay true",  # without it every small PUBLISH waits for a delayed ACK
            "max_queued_messages 100000",
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
            f"cafile {self.paths.ca_cert}",
            f"certfile {self.paths.server_cert}",
            f"keyfile {self.paths.server_key}",
            "require_certificate true",
            "use_identity_as_username true",
            f"acl_file {acl}",
        ]
        if self.plain_port is not None:
            lines += [f"listener {self.plain_port} 127.0.0.1", "protocol mqtt", "allow_anonymous true"]
        return "\n".join(lines) + "\n"

    async def start(self) -> None:
        """Start the broker and wait until it says it is running."""
        conf = self.folder / "mosquitto.conf"
        conf.write_text(self.config())
        self.process = await asyncio.create_subprocess_exec(
            MOSQUITTO, "-c", str(conf), stderr=asyncio.subprocess.PIPE
        )
        assert self.process.stderr is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(10):
                while True:
                    line = (await self.process.stderr.readline()).decode(errors="replace")
                    if not line:
                        raise RuntimeError(f"mosquitto exited: {''.join(seen)}")
                    seen.append(line)
                    if " running" in line:
                        break
        except BaseException:
            self._drain = asyncio.create_task(self._read_log())
            await self.stop(signal.SIGKILL)
            raise
        self._drain = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        process = self.process
        assert process is not None and process.stderr is not None
        while await process.stderr.readline():
            pass

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker (SIGTERM saves the persistence file; SIGKILL is a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            # os.kill, not Process.send_signal: its Popen.poll() may reap before asyncio's watcher.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)
        await process.wait()
        await self._drain

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@contextlib.asynccontextmanager
async def broker_for(paths: DevPki, folder: Path, *, plain: bool = False) -> AsyncIterator[Broker]:
    """A running broker for the dev PKI; stopped when the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    broker = Broker(folder, paths, free_port(), free_port() if plain else None)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
