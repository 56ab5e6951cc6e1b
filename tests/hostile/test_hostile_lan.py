"""The LAN API against an attacker on loopback: the real server (hub, store, TLS, connection gate),
raw sockets where a well-behaved client library would refuse to send the bytes. Each test reproduces
a finding of issue 15 and fails without its fix."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lan.conftest import Harness, auth, running_lan

from hub_agent.lan.limits import Limits
from hub_core import ratelog


@contextlib.asynccontextmanager
async def lan_with(tmp_path: Path, tls_on: bool = True, **limits: Any) -> AsyncIterator[Harness]:
    """A running LAN server whose gate and API use `Limits(**limits)`."""
    async with running_lan(tmp_path, tls_on=tls_on) as lan:
        api = lan.server.api
        assert api.gate is not None
        api.limits = api.gate.limits = replace(Limits(), **limits)
        yield lan


def _port(lan: Harness) -> int:
    assert lan.server.bound_port is not None
    return lan.server.bound_port


async def _raw(
    lan: Harness, *, tls: bool | None = None, local: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection (TLS verified against the hub's pinned certificate when the server uses TLS)."""
    use_tls = lan.server.section.tls if tls is None else tls
    context = lan.ssl if use_tls and isinstance(lan.ssl, ssl.SSLContext) else None
    return await asyncio.open_connection(
        "127.0.0.1",
        _port(lan),
        ssl=context,
        server_hostname="127.0.0.1" if context else None,
        local_addr=(local, 0) if local else None,
    )


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP answer to the end of the connection: (status, whole answer)."""
    data = await asyncio.wait_for(reader.read(), 10)
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, data


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True once the server closed or reset the connection (awaited, never slept for)."""
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await asyncio.wait_for(reader.read(), 10)
    return True


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 2)


async def _health(lan: Harness) -> int:
    async with lan.session() as session, session.get(lan.url + "/api/v1/health") as response:
        return response.status


# --- tokens and logs --------------------------------------------------------------------------------


async def test_a_non_utf8_bearer_token_is_a_counted_401_without_a_traceback(
    tmp_path: Path, _no_lingering_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    async with lan_with(tmp_path) as lan:
        for bad in (b"\xff\xfe", b"0123456789ab.\xc3(" + b"A" * 41, b"\x80"):
            reader, writer = await _raw(lan)
            writer.write(
                b"GET /api/v1/devices HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                b"Authorization: Bearer " + bad + b"\r\n\r\n"
            )
            status, data = await _answer(reader)
            await _close(writer)
            assert status == 401, data
            assert b'"error": "unauthorized"' in data
        assert len(lan.server.api.limiter) == 1  # one client, its failures counted
        assert "Traceback" not in caplog.text
        assert "Error handling request" not in caplog.text


async def test_malformed_requests_are_400s_and_log_one_line_per_minute_not_a_traceback_each(
    tmp_path: Path, _no_lingering_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    junk = [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * 20_000 + b"\r\n\r\n",
    ]
    before = ratelog.LIMITER.counts.get("lan.bad_request", 0)
    with caplog.at_level(logging.DEBUG):
        async with lan_with(tmp_path, tls_on=False) as lan:
            for _ in range(10):
                for request in junk:
                    reader, writer = await _raw(lan)
                    writer.write(request)
                    status, data = await _answer(reader)
                    await _close(writer)
                    assert status == 400, (request[:60], data[:200])
            assert await _health(lan) == 200
    lines = [r for r in caplog.records if r.name == "hub_agent.lan.http"]
    assert ratelog.LIMITER.counts["lan.bad_request"] - before == 60  # every one counted (in /metrics)
    assert len(lines) <= ratelog.BURST  # but at most the burst written in this minute
    assert all(r.levelno == logging.INFO and not r.exc_info for r in lines)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("aiohttp") and r.levelno >= logging.WARNING]


# --- slowloris, connections, handshakes ------------------------------------------------------------------


@pytest.mark.parametrize("tls_on", [True, False])
async def test_a_slow_request_head_is_cut_off_at_the_header_timeout(
    tmp_path: Path, _no_lingering_tasks: None, tls_on: bool
) -> None:
    async with lan_with(tmp_path, tls_on=tls_on, header_timeout=0.3) as lan:
        reader, writer = await _raw(lan)
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
        assert await _closed(reader)
        await _close(writer)
        samples = lan.server.metrics.refused.labels(reason="header_timeout")._value.get()
        assert samples == 1
        assert await _health(lan) == 200


async def test_a_body_trickled_in_is_a_408(
    tmp_path: Path, _no_lingering_tasks: None, token: Any = None
) -> None:
    async with lan_with(tmp_path, tls_on=False, header_timeout=0.3) as lan:
        token = await lan.new_token()
        reader, writer = await _raw(lan)
        writer.write(
            b"PUT /api/v1/rules/r HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 1000\r\n\r\n{"
        )
        status, data = await _answer(reader)
        await _close(writer)
        assert status == 408, data


async def test_one_address_cannot_take_every_connection(tmp_path: Path, _no_lingering_tasks: None) -> None:
    async with lan_with(tmp_path, max_connections_per_client=3, header_timeout=30) as lan:
        idle = [await _raw(lan) for _ in range(3)]
        reader, writer = await _raw(lan, tls=False)  # the 4th from 127.0.0.1: closed before any TLS
        assert await _closed(reader)
        await _close(writer)
        # Another address (127.0.0.2) is still served.
        reader, writer = await _raw(lan, local="127.0.0.2")
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, _ = await _answer(reader)
        await _close(writer)
        assert status == 200
        assert lan.server.metrics.refused.labels(reason="client_connections")._value.get() == 1
        for _, w in idle:
            await _close(w)
        token = await lan.new_token()
        async with (
            lan.session(headers=auth(token)) as session,
            session.get(lan.url + "/metrics", ssl=lan.ssl) as response,
        ):
            text = await response.text()
        assert 'hub_lan_connections_refused_total{reason="client_connections"} 1.0' in text
        assert re.search(r'hub_log_events_total\{cause="lan.refused.client_connections"\} [1-9]', text)


async def test_the_total_connection_budget_answers_503_when_plain(
    tmp_path: Path, _no_lingering_tasks: None
) -> None:
    async with lan_with(tmp_path, tls_on=False, max_connections=4, header_timeout=30) as lan:
        idle = [await _raw(lan, local=f"127.0.0.{i + 2}") for i in range(4)]
        reader, writer = await _raw(lan, local="127.0.0.9")
        status, data = await _answer(reader)
        await _close(writer)
        assert status == 503 and b'"error": "unavailable"' in data
        for _, w in idle:
            await _close(w)
        gate = lan.server.api.gate
        assert gate is not None
        async with asyncio.timeout(10):
            while gate.total:  # the server sees the closes
                await asyncio.sleep(0)
        assert await _health(lan) == 200
        assert gate.per_client == {}


async def test_silent_tls_clients_hold_at_most_max_handshakes_and_then_go(
    tmp_path: Path, _no_lingering_tasks: None
) -> None:
    async with lan_with(tmp_path, max_handshakes=2, header_timeout=0.5) as lan:
        gate = lan.server.api.gate
        assert gate is not None
        silent = [await _raw(lan, tls=False) for _ in range(6)]  # TCP only: no ClientHello, ever
        async with asyncio.timeout(10):
            while gate.total < 6:
                await asyncio.sleep(0)
        assert gate.handshaking <= 2
        for reader, writer in silent:
            assert await _closed(reader)  # each one cut off at the header timeout
            await _close(writer)
        assert await _health(lan) == 200
        async with asyncio.timeout(10):
            while gate.total:
                await asyncio.sleep(0)
        assert gate.handshaking == 0


# --- commands and rules ------------------------------------------------------------------------------


async def test_commands_in_flight_per_token_are_bounded(tmp_path: Path, _no_lingering_tasks: None) -> None:
    async with lan_with(tmp_path, max_commands_in_flight=2) as lan:
        token = await lan.new_token()
        release = asyncio.Event()

        async def held(command: Any) -> None:  # the radio's edge: no confirmation until released
            await release.wait()

        lan.radio.execute = held  # type: ignore[method-assign]
        async with lan.session(headers=auth(token)) as session:

            async def command() -> int:
                url = lan.url + "/api/v1/devices/zwave-2/commands"
                async with session.post(url, json={"command": "on"}) as response:
                    return response.status

            waiting = [asyncio.create_task(command()) for _ in range(2)]
            async with asyncio.timeout(10):
                while sum(lan.server.api.in_flight.values()) < 2:
                    await asyncio.sleep(0)
            url = lan.url + "/api/v1/devices/zwave-2/commands"
            async with session.post(url, json={"command": "on"}) as response:
                answer = await response.json()
                assert response.status == 429, answer
                assert answer["error"] == "too_many_commands" and response.headers["Retry-After"] == "1"
            release.set()  # the radio answers at last: both waiting commands complete
            assert await asyncio.gather(*waiting) == [200, 200]
        assert lan.server.api.in_flight == {}


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/api/v1/devices/zwave-3/commands", "POST", {"command": "set_level", "args": {"level": 10**400}}),
        (
            "/api/v1/devices/zwave-3/commands",
            "POST",
            {"command": "set_level", "args": {"level": 1, "duration": -(10**30)}},
        ),
        ("/api/v1/inclusion", "POST", {"protocol": "zwave", "seconds": 10**400}),
        ("/api/v1/inclusion", "POST", {"protocol": "zwave", "seconds": 1e308 * 10}),
    ],
)
async def test_numbers_beyond_float_range_are_422_not_500(
    tmp_path: Path, _no_lingering_tasks: None, path: str, method: str, body: Any
) -> None:
    import json as _json

    async with lan_with(tmp_path) as lan:
        token = await lan.new_token()
        text = _json.dumps(body)  # 1e308 * 10 is inf: json.dumps writes Infinity, which the hub refuses
        async with (
            lan.session(headers={**auth(token), "Content-Type": "application/json"}) as session,
            session.request(method, lan.url + path, data=text) as response,
        ):
            answer = await response.json()
        assert response.status in (400, 422), answer
