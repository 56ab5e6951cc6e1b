"""The events WebSocket: CONTRACT event shapes, browser-style auth, back-pressure, 100 clients at once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import time
from dataclasses import replace
from typing import Any

import aiohttp

from hub_agent.lan import events
from hub_core.model import ButtonPressed, DeviceId, RuleFired, StateChanged

SWITCH, DIMMER = "zwave-2", "zwave-3"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    data: dict[str, Any] = json.loads(message.data)
    return data


async def test_a_command_shows_up_as_contract_state_events(lan: Any, token: str) -> None:
    async with (
        lan.session(headers=auth(token)) as session,
        session.ws_connect(lan.url + "/api/v1/events") as ws,
    ):
        assert ws.protocol is None  # a header-authenticated client offers no subprotocol
        url = lan.url + f"/api/v1/devices/{DIMMER}/commands"
        async with session.post(url, json={"command": "set_level", "args": {"level": 55}}) as response:
            assert response.status == 200
        first, second = await next_json(ws), await next_json(ws)
        assert {k: first[k] for k in ("type", "device", "attribute", "value")} == {
            "type": "state",
            "device": DIMMER,
            "attribute": "level",
            "value": 55,
        }
        assert RFC3339.match(first["ts"])
        assert set(first) == {"type", "device", "attribute", "value", "ts"}
        assert (second["attribute"], second["value"]) == ("switch", "on")

        lan.runtime.bus.publish(ButtonPressed(DeviceId(SWITCH), 1, "double"))
        lan.runtime.bus.publish(RuleFired("hall", "state", 0.4))
        button, fired = await next_json(ws), await next_json(ws)
        assert (button["type"], button["button"], button["action"]) == ("button", 1, "double")
        assert (fired["type"], fired["rule"]) == ("rule_fired", "hall")


async def test_browsers_authenticate_with_a_subprotocol(lan: Any, token: str) -> None:
    async with lan.session() as session:
        protocols = (events.SUBPROTOCOL, events.BEARER_PREFIX + token)
        async with session.ws_connect(lan.url + "/api/v1/events", protocols=protocols) as ws:
            assert ws.protocol == "hub-agent"  # the server never echoes the token
            lan.runtime.hub.ingest(StateChanged(DeviceId(SWITCH), "switch", "on"))
            assert (await next_json(ws))["value"] == "on"
        for bad in (events.BEARER_PREFIX + "0123456789ab." + "C" * 43, events.BEARER_PREFIX):
            try:
                async with session.ws_connect(
                    lan.url + "/api/v1/events", protocols=(events.SUBPROTOCOL, bad)
                ):
                    raise AssertionError("connected with a bad token")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 401
        # The subprotocol is accepted on the events route only, never on plain requests.
        headers = {"Sec-WebSocket-Protocol": events.BEARER_PREFIX + token}
        async with session.get(lan.url + "/api/v1/devices", headers=headers) as response:
            assert response.status == 401


async def test_a_client_whose_queue_overflows_is_closed_with_1013(lan: Any, token: str) -> None:
    async with (
        lan.session(headers=auth(token)) as session,
        session.ws_connect(lan.url + "/api/v1/events") as ws,
    ):
        bus = lan.runtime.bus
        (subscription,) = [s for s in bus.subscriptions if s.name.startswith("lan-ws-")]
        # Publishing never waits for the client (it is synchronous): one burst overflows its queue
        # in one loop turn.
        for i in range(events.QUEUE_SIZE + 1):
            bus.publish(StateChanged(DeviceId(DIMMER), "level", i % 100))
        assert subscription.overflowed and subscription not in bus.subscriptions
        received = 0
        while True:
            message = await asyncio.wait_for(ws.receive(), 5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            received += 1
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == 1013
        assert received == events.QUEUE_SIZE  # what was queued is still delivered, then the close
    assert (
        lan.server.metrics.registry.get_sample_value("hub_lan_ws_disconnects_total", {"reason": "too_slow"})
        == 1
    )


async def _raw_ws_that_never_reads(lan: Any, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TLS WebSocket client at the byte level that completes the handshake and then stops reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up fast
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", lan.server.bound_port))
    reader, writer = await asyncio.open_connection(sock=sock, ssl=lan.ssl, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert status.startswith(b"HTTP/1.1 101"), status
    reader._transport.pause_reading()  # type: ignore[attr-defined]  # the "slow phone" stops reading
    return reader, writer


async def test_a_client_that_stops_reading_is_cut_off_and_never_slows_commands(lan: Any, token: str) -> None:
    _reader, writer = await _raw_ws_that_never_reads(lan, token)
    bus = lan.runtime.bus
    (subscription,) = [s for s in bus.subscriptions if s.name.startswith("lan-ws-")]
    worst_publish = 0.0
    command_times = []
    padding = "x" * 2000  # large events fill the socket buffers sooner
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + f"/api/v1/devices/{SWITCH}/commands"
        for batch in range(2000):
            started = time.perf_counter()
            for _ in range(20):
                bus.publish(RuleFired(padding, "state", 0.1))
            worst_publish = max(worst_publish, time.perf_counter() - started)
            if batch % 50 == 0:
                started = time.perf_counter()
                async with session.post(url, json={"command": "on" if batch % 100 else "off"}) as response:
                    assert response.status == 200
                command_times.append(time.perf_counter() - started)
            if subscription not in bus.subscriptions:
                break
            # Let the server's sender run and push bytes into the (full) socket, as in real life.
            await asyncio.sleep(0)
        else:
            raise AssertionError("a client that never reads was never disconnected")
    assert worst_publish < 1.0, worst_publish  # generous: a blocking publish would hang
    assert (
        lan.server.metrics.registry.get_sample_value("hub_lan_ws_disconnects_total", {"reason": "too_slow"})
        == 1
    )
    assert max(command_times) < 2.0, command_times
    # The server gave up on it: the connection ends (close frame queued, then the TCP connection).
    writer.close()
    await asyncio.wait_for(_gone(lan), 5)


async def _gone(lan: Any) -> None:
    await lan.server.api.no_clients.wait()


async def test_100_concurrent_clients(lan: Any, token: str) -> None:
    """100 phones at once: each opens its own TLS connection, sends a command and follows events."""
    n = 100
    # Here the 100 phones share one address and one token; the default limits are per address/token.
    api = lan.server.api
    api.limits = api.gate.limits = replace(
        api.limits, max_event_clients=n, max_connections_per_client=4 * n, max_commands_in_flight=n
    )
    sessions = [lan.session(headers=auth(token)) for _ in range(n)]
    try:
        sockets = await asyncio.gather(*(s.ws_connect(lan.url + "/api/v1/events") for s in sessions))

        async def one(i: int, session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
            device = SWITCH if i % 2 else DIMMER
            async with session.post(
                lan.url + f"/api/v1/devices/{device}/commands", json={"command": "on" if i % 4 < 2 else "off"}
            ) as response:
                result = await response.json()
            async with session.get(lan.url + f"/api/v1/devices/{device}") as response:
                assert response.status == 200
            return response.status, result

        results = await asyncio.gather(*(one(i, s) for i, s in enumerate(sessions)))
        assert all(status == 200 for status, _ in results)
        assert all(result["status"] == "ok" for _, result in results)
        assert len(lan.radio.written) == n
        # Every client sees every one of the n state events, in the same order.
        orders = []
        for ws in sockets:
            orders.append([(e["device"], e["value"]) for e in [await next_json(ws) for _ in range(n)]])
        assert all(order == orders[0] for order in orders)
        assert len(lan.server.api.websockets) == n
        for ws in sockets:
            await ws.close()
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    await asyncio.wait_for(_gone(lan), 5)


async def test_stopping_the_server_closes_streams_with_1001_and_it_can_start_again(
    lan: Any, token: str
) -> None:
    async with lan.session(headers=auth(token)) as session:
        ws = await session.ws_connect(lan.url + "/api/v1/events")
        receiving = asyncio.create_task(ws.receive())
        await lan.restart()
        message = await asyncio.wait_for(receiving, 5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
        await ws.close()
        # The supervisor restarts a part by calling run() again: same certificate, same tokens.
        async with session.get(lan.url + "/api/v1/devices") as response:
            assert response.status == 200
        async with session.ws_connect(lan.url + "/api/v1/events") as ws:
            lan.runtime.hub.ingest(StateChanged(DeviceId(SWITCH), "switch", "on"))
            assert (await next_json(ws))["value"] == "on"


async def test_a_plain_get_on_the_events_route_is_a_clear_400(lan: Any, token: str) -> None:
    async with (
        lan.session(headers=auth(token)) as session,
        session.get(lan.url + "/api/v1/events") as response,
    ):
        answer = await response.json()
    assert response.status == 400, answer
    assert answer["error"] == "bad_request"
    assert "WebSocket" in answer["message"]
    assert lan.server.api.no_clients.is_set()


async def test_event_clients_are_capped(lan: Any, token: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(lan.server.api, "limits", replace(lan.server.api.limits, max_event_clients=2))
    async with lan.session(headers=auth(token)) as session:
        first = await session.ws_connect(lan.url + "/api/v1/events")
        second = await session.ws_connect(lan.url + "/api/v1/events")
        try:
            await session.ws_connect(lan.url + "/api/v1/events")
            raise AssertionError("a third client was let in")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 503
        await first.close()
        await second.close()
    await lan.server.api.no_clients.wait()
