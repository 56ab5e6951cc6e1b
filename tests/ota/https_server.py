"""An HTTPS server on 127.0.0.1 with a per-test CA, serving a TUF repository folder, with faults to inject.

It honours `Range: bytes=N-` like a CDN would, and can misbehave on purpose: drop the connection after
some bytes of a file (once), ignore Range, or append bytes beyond a file's end (endless data).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(slots=True)
class UpdateCA:
    """A CA and a server certificate for 127.0.0.1, written as PEM files in `folder`."""

    folder: Path
    ca_file: Path = field(init=False)
    cert_file: Path = field(init=False)
    key_file: Path = field(init=False)

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub-agent test update CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.folder / "ca.pem"
        self.cert_file = self.folder / "server.pem"
        self.key_file = self.folder / "server.key"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self) -> ssl.SSLContext:
        """The server side TLS context."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(slots=True)
class Faults:
    """Misbehaviour for one file path (relative to the served folder)."""

    drop_after: int | None = None  # close the connection after this many bytes, `drops` times
    drops: int = 1
    ignore_range: bool = False
    extra: bytes = b""  # appended after the file's real content
    status: int | None = None  # answer with this HTTP status instead
    location: str | None = None  # with `status`: a redirect's Location header
    shift: int = 0  # answer a Range request from this many bytes later (saying so in Content-Range)


class RepoServer:
    """Serves `folder` over HTTPS on 127.0.0.1; `url` is the repository URL (with a trailing slash)."""

    def __init__(self, folder: Path, ca: UpdateCA) -> None:
        self.folder = folder
        self.ca = ca
        self.faults: dict[str, Faults] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.bytes_sent = 0
        self._runner: web.AppRunner | None = None
        self._connections: set[asyncio.Transport] = set()
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._get)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ca.server_context())
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://127.0.0.1:{port}/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # A TLS connection the client dropped first is still waiting for its close_notify here; left to
        # the event loop's end, its socket is never closed and the ResourceWarning fails a later test.
        for transport in self._connections:
            transport.abort()
        self._connections.clear()
        await asyncio.sleep(0)  # one loop turn: abort() closes the sockets in a callback it schedules

    async def _get(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        rng = request.headers.get("Range")
        if request.transport is not None:
            self._connections.add(request.transport)
        self.requests.append((path, rng))
        fault = self.faults.get(path, Faults())
        if fault.status is not None:
            redirect = {"Location": fault.location} if fault.location else {}
            return web.Response(status=fault.status, headers=redirect)
        file = (self.folder / path).resolve()
        if not file.is_relative_to(self.folder.resolve()) or not file.is_file():
            return web.Response(status=404)
        size = file.stat().st_size + len(fault.extra)
        start = 0
        status = 200
        headers = {}
        if rng and not fault.ignore_range and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1]) + fault.shift
            if start >= size:
                return web.Response(status=416)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = size - start
        await response.prepare(request)
        budget = fault.drop_after
        fault.drops -= 1
        if fault.drops <= 0:
            fault.drop_after = None
        sent = 0
        # Streamed from the file in chunks, so serving a big bundle does not inflate the process's RSS.
        with file.open("rb") as source:
            source.seek(min(start, file.stat().st_size))
            while chunk := source.read(256 * 1024):
                sent += await self._send(response, chunk, budget, sent)
                if budget is not None and sent >= budget:
                    break
            if fault.extra and (budget is None or sent < budget):
                offset = max(0, start - file.stat().st_size)
                sent += await self._send(response, fault.extra[offset:], budget, sent)
        self.bytes_sent += sent
        if budget is not None:
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-body
            return response
        await response.write_eof()
        return response

    async def _send(self, response: web.StreamResponse, chunk: bytes, budget: int | None, sent: int) -> int:
        if budget is not None:
            chunk = chunk[: max(0, budget - sent)]
        await response.write(chunk)
        return len(chunk)
