"""A whole `hub-agent run` in a subprocess and the attacker's tools against it, all on loopback.

Shared by tests/hostile (bounds: zero 5xx, no traceback, log bytes, RSS) and tests/bench/bench_hostile.py
(figures). The agent's stderr is read as it is written: its size is the log volume the hub would
send to the journal.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from hub_agent.lan import tls
from hubtest.processes import signal_child

ROOT = Path(__file__).resolve().parents[2]
#: The attacker and the household's phone: two loopback addresses, as two hosts on a LAN would be.
ATTACKER = "127.0.0.2"
OWNER = "127.0.0.1"
#: Every line our formatter writes starts like this; anything else is a forged or broken line.
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Agent:
    """A running agent: its process, LAN address, a token, and what it has logged so far."""

    process: asyncio.subprocess.Process
    port: int
    token: str
    context: ssl.SSLContext
    lines: list[str] = field(default_factory=list)
    #: needle -> set once a log line contains it (see `logged`)
    needles: dict[str, asyncio.Event] = field(default_factory=dict)
    log_bytes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def rss_kb(self) -> int:
        """The agent's resident memory (VmRSS) in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1])  # type: ignore[index]

    async def open(
        self, *, tls_on: bool = True, local: str = ATTACKER
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A raw connection to the LAN port (TLS verified against the hub's certificate) from `local`."""
        return await asyncio.open_connection(
            "127.0.0.1",
            self.port,
            ssl=self.context if tls_on else None,
            server_hostname="127.0.0.1" if tls_on else None,
            local_addr=(local, 0),
        )

    async def request(self, raw: bytes, *, tls_on: bool = True, local: str = ATTACKER) -> int:
        """Send raw request bytes on a new connection; the answer's status (0: closed without one)."""
        try:
            reader, writer = await self.open(tls_on=tls_on, local=local)
        except (OSError, ssl.SSLError):
            return 0
        try:
            writer.write(raw)
            data = await asyncio.wait_for(reader.read(), 30)
        except (OSError, ssl.SSLError):
            data = b""
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 2)
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
        self.statuses[status] += 1
        return status

    def http(self, method: str, path: str, body: bytes = b"", *, token: bytes | None = None) -> bytes:
        """Request bytes (Connection: close), with our token unless another is given."""
        auth = self.token.encode() if token is None else token
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        return head + b"Authorization: Bearer " + auth + b"\r\n\r\n" + body

    async def logged(self, needle: str, timeout: float = 30) -> None:
        """Return once a log line contains `needle` (awaited on the log reader, not polled)."""
        event = self.needles.setdefault(needle, asyncio.Event())
        if any(needle in line for line in self.lines):
            event.set()
        await asyncio.wait_for(event.wait(), timeout)

    async def health(self) -> int:
        """GET /api/v1/health."""
        return await self.request(self.http("GET", "/api/v1/health", token=b"-"), local=OWNER)

    async def owner(self, method: str, path: str, body: bytes = b"") -> int:
        """A request from the household's own phone (another address than the attacker's)."""
        return await self.request(self.http(method, path, body), local=OWNER)


async def _read_log(agent: Agent, stream: asyncio.StreamReader, ready: asyncio.Event) -> None:
    while line := await stream.readline():
        agent.log_bytes += len(line)
        text = line.decode("utf-8", "replace")
        agent.lines.append(text)
        for needle, event in agent.needles.items():
            if needle in text:
                event.set()
        if "LAN API listening" in text:
            ready.set()


def _config(data_dir: Path, port: int, extra: str) -> str:
    return (
        f'[hub]\nid = "hub-hostile"\ndata_dir = "{data_dir}"\n\n[ble]\nadapter = "sim"\n\n'
        f'[lan]\nlisten = "127.0.0.1:{port}"\ntls = true\nmdns = false\n{extra}'
    )


@contextlib.asynccontextmanager
async def running_agent(
    tmp_path: Path, lan_extra: str = "", *, nofile: int | None = None
) -> AsyncIterator[Agent]:
    """`hub-agent run` with TLS on a free loopback port and one token; stopped (SIGTERM) on exit.
    `nofile`: the process's open-file limit (as a unit's LimitNOFILE would set it)."""
    port = free_port()
    config = tmp_path / "hub.toml"
    config.write_text(_config(tmp_path / "data", port, lan_extra))
    made = subprocess.run(
        [sys.executable, "-m", "hub_agent", "token", "create", "--config", str(config), "--name", "attacker"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    token = made.stdout.strip().splitlines()[-1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub_agent",
        "run",
        "--config",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=None
        if nofile is None
        else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)),
    )
    assert process.stderr is not None
    ready = asyncio.Event()
    agent = Agent(process, port, token, ssl.create_default_context())
    reader = asyncio.create_task(_read_log(agent, process.stderr, ready))
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, reader}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiting.cancel()
            raise AssertionError("the agent did not start:\n" + "".join(agent.lines[-30:]))
        agent.context = tls.client_context(tmp_path / "data" / tls.CERT_FILE)
        yield agent
    finally:
        if process.returncode is None:
            signal_child(process, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                signal_child(process, signal.SIGKILL)
                await process.wait()
        await reader


# --- the attacker's tools ---------------------------------------------------------------------------

#: Malformed HTTP/1.1: each must be a 400 and a counted, rate-limited log line, never a traceback.
MALFORMED = (
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    b"\x16\x03\x01garbage\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
)


def bad_token_requests(agent: Agent) -> list[bytes]:
    """Wrong tokens, non-UTF-8 tokens, and paths that try to forge log lines."""
    return [
        agent.http("GET", "/api/v1/devices", token=b"\xff\xfe\xfd"),
        agent.http("GET", "/api/v1/devices", token=b"0123456789ab." + b"A" * 43),
        agent.http("GET", "/api/v1/x%0A2026-01-01T00:00:00.000Z%20ERROR%20forged:%20yes", token=b"\xc3("),
        agent.http("GET", "/api/v1/devices%0D%0AINFO%20x", token=b"nope"),
    ]


def huge_number_requests(agent: Agent) -> list[bytes]:
    """Authorised bodies with numbers far beyond float range (each was a 500)."""
    big = "9" * 400
    bodies = [
        (
            "POST",
            "/api/v1/devices/ble-000000000002/commands",
            f'{{"command":"set_level","args":{{"level":{big}}}}}',
        ),
        ("POST", "/api/v1/inclusion", f'{{"protocol":"ble","seconds":{big}}}'),
        ("POST", "/api/v1/inclusion", '{"protocol":"ble","seconds":1e999}'),
        (
            "PUT",
            "/api/v1/rules/huge",
            '{"triggers":[{"type":"time","sun":"sunset","offset_minutes":' + big + "}],"
            '"actions":[{"type":"delay","seconds":-' + big + "}]}",
        ),
    ]
    return [agent.http(method, path, body.encode()) for method, path, body in bodies]


async def slow_clients(
    agent: Agent, count: int, *, tls_on: bool = True, local: str = ATTACKER
) -> list[asyncio.StreamWriter]:
    """`count` connections from `local` that start a request head and never finish it (slowloris);
    without TLS they send nothing at all (a TLS server then waits for a ClientHello that never comes)."""
    writers = []
    for _ in range(count):
        try:
            _, writer = await agent.open(tls_on=tls_on, local=local)
        except (OSError, ssl.SSLError):
            continue
        if tls_on:
            writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        writers.append(writer)
    return writers


async def event_clients(agent: Agent, count: int) -> list[asyncio.StreamWriter]:
    """`count` event WebSockets that are upgraded and then never read from."""
    writers = []
    for i in range(count):
        try:
            reader, writer = await agent.open()
        except (OSError, ssl.SSLError):
            continue
        key = base64.b64encode(i.to_bytes(16, "big")).decode()
        writer.write(
            (
                f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{agent.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {agent.token}\r\n\r\n"
            ).encode()
        )
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # the 101, then never read again
        writers.append(writer)
    return writers


async def close_all(writers: list[asyncio.StreamWriter]) -> None:
    """Close the attacker's connections."""
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 2)


async def flood(
    agent: Agent, requests: list[bytes], times: int, concurrency: int = 16, local: str = ATTACKER
) -> None:
    """Send each request `times` times from `local`, `concurrency` connections at once."""
    queue = [r for _ in range(times) for r in requests]
    semaphore = asyncio.Semaphore(concurrency)

    async def one(raw: bytes) -> None:
        async with semaphore:
            await agent.request(raw, local=local)

    await asyncio.gather(*(one(r) for r in queue))
