"""The LAN API over real HTTPS on 127.0.0.1: auth on every route, bodies, commands, rules, inclusion."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from hub_agent.lan.api import MAX_BODY
from hub_agent.lan.pairing import FailureLimiter
from hub_core.model import StateChanged
from radios.base import RadioState

SWITCH, DIMMER = "zwave-2", "zwave-3"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: The routes that need no token, and why: the page (it holds no data; it asks for a token),
#: health (for discovery), pairing (gated by the button instead). Anything else is a bug.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/style.css"),
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/pair"),
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "zwave-2", path)


def _app_routes(lan: Any) -> list[tuple[str, str]]:
    """Every (method, path) aiohttp would actually serve, read from the live router, not our table."""
    runner_app = lan.server.api  # the table the middleware uses
    table = {(r.method, r.path) for r in runner_app.routes()}
    assert table, "empty route table"
    return sorted(table)


async def test_every_route_without_a_token_is_401(lan: Any) -> None:
    """Table-driven over the route table: a new route cannot be added without auth by mistake."""
    routes = _app_routes(lan)
    assert set(routes) >= PUBLIC
    assert {r.path for r in lan.server.api.routes() if r.public} == {p for _, p in PUBLIC}
    async with lan.session() as session:
        for method, path in routes:
            if (method, path) in PUBLIC:
                continue
            for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
                async with session.request(method, lan.url + _concrete(path), headers=headers) as response:
                    body = await response.json()
                    assert response.status == 401, (method, path, headers, body)
                    assert body["error"] == "unauthorized"
                    assert body["message"]


async def test_live_router_has_no_route_outside_the_table(lan: Any) -> None:
    """aiohttp's own router holds exactly the table's routes (so the table-driven test sees them all)."""
    from aiohttp import web

    app = lan.server.api.build_app()
    live = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    assert live == set(_app_routes(lan))
    assert isinstance(app, web.Application)


async def test_a_wrong_token_is_401_on_every_route(start_lan: Any) -> None:
    async with start_lan(limiter=FailureLimiter(max_failures=1000)) as lan:
        await lan.new_token()
        wrong = "0123456789ab." + "A" * 43
        async with lan.session() as session:
            for method, path in _app_routes(lan):
                if (method, path) in PUBLIC:
                    continue
                async with session.request(
                    method, lan.url + _concrete(path), headers=auth(wrong)
                ) as response:
                    assert response.status == 401, (method, path)


async def test_unknown_paths_need_a_token_too(lan: Any, token: str) -> None:
    async with lan.session() as session:
        async with session.get(lan.url + "/api/v1/nothing-here") as response:
            assert response.status == 401
        async with session.get(lan.url + "/api/v1/nothing-here", headers=auth(token)) as response:
            assert response.status == 404
            assert (await response.json())["error"] == "not_found"
        async with session.patch(lan.url + "/api/v1/devices", headers=auth(token)) as response:
            assert response.status == 405
            assert (await response.json())["error"] == "method_not_allowed"


async def test_health_and_page_are_public_and_carry_security_headers(lan: Any) -> None:
    async with lan.session() as session:
        async with session.get(lan.url + "/api/v1/health") as response:
            assert response.status == 200
            assert await response.json() == {
                "status": "ok",
                "version": "0.1.0",
                "hub_id": "hub-test",
                "api": "/api/v1",
                "tls": True,
            }
        async with session.get(lan.url + "/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            assert "<title>hub-agent</title>" in await response.text()
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        async with session.get(lan.url + "/app.js") as response:
            assert response.content_type == "text/javascript"


async def test_devices_list_and_get(lan: Any, token: str) -> None:
    async with lan.session(headers=auth(token)) as session:
        async with session.get(lan.url + "/api/v1/devices") as response:
            devices = await response.json()
        assert [d["id"] for d in devices] == [SWITCH, DIMMER]
        assert devices[0] == {
            "id": "zwave-2",
            "protocol": "zwave",
            "name": "Hall switch",
            "manufacturer": "Edge",
            "model": "S1",
            "online": True,
            "capabilities": ["switch"],
            "state": {"switch": "off"},
        }
        async with session.get(lan.url + f"/api/v1/devices/{DIMMER}") as response:
            assert (await response.json())["state"] == {"switch": "off", "level": 0}
        async with session.get(lan.url + "/api/v1/devices/zwave-99") as response:
            assert response.status == 404
            assert await response.json() == {"error": "unknown_device", "message": "no device 'zwave-99'"}


async def test_command_returns_after_the_radio_confirmed(lan: Any, token: str) -> None:
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + f"/api/v1/devices/{DIMMER}/commands"
        async with session.post(url, json={"command": "set_level", "args": {"level": 40}}) as response:
            body = await response.json()
        assert response.status == 200, body
        assert body["status"] == "ok" and body["ms"] >= 0
        # The radio wrote it before the answer, and the hub already holds the new state.
        assert lan.radio.written == [b"zwave-3:set_level:[('level', 40)]"]
        assert lan.runtime.hub.device(DIMMER).state == {"switch": "on", "level": 40}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "status", "error", "field", "words"),
    [
        ({"command": "dance"}, 422, "invalid_command", "command", "unknown command 'dance'"),
        ({"command": "set_level"}, 422, "invalid_command", "command", "needs argument 'level'"),
        ({"command": "set_level", "args": {"level": 101}}, 422, "invalid_command", "command", "at most 100"),
        ({"command": "set_level", "args": {"level": "x"}}, 422, "invalid_command", "command", "number"),
        ({"command": "on", "args": {"speed": 1}}, 422, "invalid_command", "command", "no argument 'speed'"),
        (
            {"command": "set_color_temp", "args": {"kelvin": 3000}},
            422,
            "invalid_command",
            "command",
            "color_temp",
        ),
        ({}, 422, "invalid_body", "command", "'command' is required"),
        ({"command": 5}, 422, "invalid_body", "command", "must be a string"),
        ({"command": "on", "args": [1]}, 422, "invalid_body", "args", "must be an object"),
        ({"command": "on", "extra": 1}, 422, "invalid_body", "extra", "unknown field 'extra'"),
        ([1, 2], 422, "invalid_body", "$", "must be a JSON object"),
    ],
)
async def test_bad_commands_are_422_naming_the_field(
    lan: Any, token: str, body: object, status: int, error: str, field: str, words: str
) -> None:
    url = lan.url + f"/api/v1/devices/{DIMMER}/commands"
    async with lan.session(headers=auth(token)) as session, session.post(url, json=body) as response:
        answer = await response.json()
    assert response.status == status, answer
    assert answer["error"] == error
    assert answer["field"] == field
    assert words in answer["message"]
    assert lan.radio.written == []


@pytest.mark.parametrize(
    ("raw", "status", "error", "words"),
    [
        (b"{", 400, "bad_json", "not valid JSON"),
        (b'{"command": "on",}', 400, "bad_json", "not valid JSON"),
        (b"\xff\xfe{}", 400, "bad_json", "not UTF-8"),
        (b'{"command": NaN}', 400, "bad_json", "NaN is not valid JSON"),
        (b"[" * 100_00 + b"]" * 100_00, 400, "bad_json", "not valid JSON"),
        (b"", 422, "invalid_body", "'command' is required"),
    ],
)
async def test_malformed_bodies(
    lan: Any, token: str, raw: bytes, status: int, error: str, words: str
) -> None:
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + f"/api/v1/devices/{SWITCH}/commands"
        async with session.post(url, data=raw, headers={"Content-Type": "application/json"}) as response:
            answer = await response.json()
    assert (response.status, answer["error"]) == (status, error), answer
    assert words in answer["message"]


async def test_oversized_bodies_are_413_and_the_server_keeps_serving(lan: Any, token: str) -> None:
    big = b'{"command": "on", "pad": "' + b"x" * MAX_BODY + b'"}'
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + f"/api/v1/devices/{SWITCH}/commands"
        async with session.post(url, data=big) as response:
            answer = await response.json()
            assert response.status == 413
            assert answer["error"] == "too_large"

        async def chunks():  # no Content-Length: the limit must hold for streamed bodies too
            for _ in range(MAX_BODY // 1024 + 2):
                yield b"x" * 1024

        async with session.post(url, data=chunks()) as response:
            assert response.status == 413
            assert (await response.json())["error"] == "too_large"
        async with session.post(url, json={"command": "on"}) as response:
            assert response.status == 200
    assert lan.radio.written == [b"zwave-2:on:[]"]


async def test_command_errors_map_to_contract_statuses(lan: Any, token: str) -> None:
    lan.server.api.command_timeout = 0.05
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + f"/api/v1/devices/{SWITCH}/commands"
        lan.radio.behaviour = "hang"
        async with session.post(url, json={"command": "on"}) as response:
            assert response.status == 504
            assert (await response.json())["error"] == "timeout"
        lan.radio.behaviour = "fail"
        async with session.post(url, json={"command": "on"}) as response:
            assert response.status == 502
            assert (await response.json())["error"] == "delivery_failed"
        lan.radio.behaviour = "ok"
        lan.radio.state = RadioState.RECOVERING
        async with session.post(url, json={"command": "on"}) as response:
            answer = await response.json()
            assert response.status == 503
            assert answer["error"] == "radio_unavailable"
            assert "recovering" in answer["message"]
        lan.radio.state = RadioState.RUNNING
        async with session.post(
            lan.url + "/api/v1/devices/zwave-77/commands", json={"command": "on"}
        ) as response:
            assert response.status == 404
        async with session.get(lan.url + "/metrics") as response:
            text = await response.text()
    assert 'hub_commands_total{result="failed"} 3.0' in text
    assert 'hub_lan_command_seconds_count{result="error"} 4.0' in text


async def test_inclusion_start_and_stop(lan: Any, token: str) -> None:
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + "/api/v1/inclusion"
        async with session.post(url, json={"protocol": "zwave", "seconds": 30}) as response:
            assert await response.json() == {"status": "ok", "protocol": "zwave", "seconds": 30}
        async with session.post(url, json={"protocol": "zwave"}) as response:
            assert (await response.json())["seconds"] == 60
        async with session.delete(url) as response:
            assert await response.json() == {"status": "ok", "protocols": ["zwave"]}
        async with session.delete(url, json={"protocol": "zwave"}) as response:
            assert response.status == 200
        assert lan.radio.inclusion == [30, 60, 0, 0]
        for body, field, words in [
            ({"protocol": "thread"}, "protocol", "must be one of zwave, zigbee, ble"),
            ({"protocol": "zwave", "seconds": 0}, "seconds", "between 1 and 254"),
            ({"protocol": "zwave", "seconds": True}, "seconds", "must be a number"),
            ({"seconds": 5}, "protocol", "'protocol' is required"),
        ]:
            async with session.post(url, json=body) as response:
                answer = await response.json()
                assert response.status == 422, answer
                assert answer["field"] == field and words in answer["message"]
        async with session.post(url, json={"protocol": "zigbee"}) as response:
            answer = await response.json()
            assert response.status == 503
            assert answer == {"error": "radio_unavailable", "message": "the zigbee radio is not configured"}
    assert lan.radio.inclusion == [30, 60, 0, 0]


async def test_rules_crud_and_validation(lan: Any, token: str) -> None:
    rule = {
        "triggers": [{"type": "state", "device": SWITCH, "attribute": "switch", "to": "on"}],
        "actions": [{"type": "command", "device": DIMMER, "command": "on"}],
    }
    async with lan.session(headers=auth(token)) as session:
        base = lan.url + "/api/v1/rules"
        async with session.get(base) as response:
            assert await response.json() == []
        async with session.put(base + "/hall", json=rule) as response:
            stored = await response.json()
            assert response.status == 200, stored
            assert stored["id"] == "hall" and stored["last_fired"] is None
        async with session.get(base) as response:
            assert [r["id"] for r in await response.json()] == ["hall"]
        async with session.get(base + "/hall") as response:
            assert (await response.json())["actions"] == rule["actions"]
        async with session.put(base + "/bad", json={"mode": "sometimes"}) as response:
            answer = await response.json()
            assert response.status == 422
            assert answer["error"] == "invalid_rule"
            assert answer["problems"] == [
                {"path": "$.triggers", "message": "needs at least one trigger"},
                {"path": "$.actions", "message": "needs at least one action"},
                {"path": "$.mode", "message": "unknown mode 'sometimes'"},
            ]
            assert answer["field"] == "$.triggers"
        async with session.put(base + "/hall", json={**rule, "id": "other"}) as response:
            answer = await response.json()
            assert response.status == 422 and answer["field"] == "id"
        async with session.put(base + "/hall", json=[rule]) as response:
            assert response.status == 422
        async with session.delete(base + "/hall") as response:
            assert await response.json() == {"status": "ok", "id": "hall"}
        async with session.delete(base + "/hall") as response:
            assert response.status == 404
        async with session.get(base + "/hall") as response:
            assert (await response.json())["error"] == "unknown_rule"


async def test_rule_routes_are_503_without_a_rules_engine(start_lan: Any) -> None:
    async with start_lan(rules=False) as lan:
        token = await lan.new_token()
        async with lan.session(headers=auth(token)) as session:
            for method, path in [
                ("GET", "/api/v1/rules"),
                ("GET", "/api/v1/rules/x"),
                ("DELETE", "/api/v1/rules/x"),
            ]:
                async with session.request(method, lan.url + path) as response:
                    assert response.status == 503
                    assert (await response.json())["error"] == "rules_unavailable"


async def test_metrics_in_prometheus_text_format(lan: Any, token: str) -> None:
    async with lan.session(headers=auth(token)) as session:
        async with session.post(
            lan.url + f"/api/v1/devices/{SWITCH}/commands", json={"command": "on"}
        ) as response:
            assert response.status == 200
        async with session.get(lan.url + "/metrics") as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    hub = lan.runtime.hub
    assert samples[("hub_events_in_total", ())] == hub.events_in
    assert samples[("hub_bus_published_total", ())] == lan.runtime.bus.published
    assert samples[("hub_commands_total", (("result", "ok"),))] == 1
    assert samples[("hub_lan_command_seconds_count", (("result", "ok"),))] == 1
    assert samples[("hub_radio_state", (("protocol", "zwave"), ("state", "running")))] == 1
    assert samples[("hub_radio_state", (("protocol", "zwave"), ("state", "recovering")))] == 0
    # Each radio's own counters, read at scrape time.
    assert samples[("hub_radio_events_total", (("counter", "written"), ("protocol", "zwave")))] == 1
    assert samples[("hub_radio_events_total", (("counter", "inclusions"), ("protocol", "zwave")))] == 0
    assert samples[("hub_devices", (("online", "true"),))] == 2
    assert ("hub_lan_requests_total", (("route", "command"), ("status", "200"))) in samples


async def test_queue_depths_and_drops_are_exported(lan: Any, token: str) -> None:
    from hub_core.bus import Overflow

    subscription = lan.runtime.bus.subscribe("slowpoke", maxsize=2, overflow=Overflow.DROP_OLDEST)
    try:
        for _ in range(5):
            lan.runtime.bus.publish(StateChanged(SWITCH, "switch", "on"))
        async with lan.session(headers=auth(token)) as session, session.get(lan.url + "/metrics") as response:
            text = await response.text()
        assert 'hub_bus_queue_depth{subscriber="slowpoke"} 2.0' in text
        assert 'hub_bus_dropped_total{subscriber="slowpoke"} 3.0' in text
    finally:
        subscription.close()


async def test_tokens_can_be_listed_and_revoked_over_the_api(lan: Any, token: str) -> None:
    other = await lan.new_token("phone")
    async with lan.session() as session:
        async with session.get(lan.url + "/api/v1/tokens", headers=auth(token)) as response:
            listed = await response.json()
        assert [t["name"] for t in listed] == ["test", "phone"]
        assert all(set(t) == {"id", "name", "created", "last_used", "owner"} for t in listed)
        assert token not in str(listed)
        phone_id = listed[1]["id"]
        async with session.delete(lan.url + f"/api/v1/tokens/{phone_id}", headers=auth(token)) as response:
            assert response.status == 200
        async with session.get(lan.url + "/api/v1/devices", headers=auth(other)) as response:
            assert response.status == 401
        async with session.delete(lan.url + f"/api/v1/tokens/{phone_id}", headers=auth(token)) as response:
            assert response.status == 404
        async with session.delete(lan.url + "/api/v1/tokens/..%2f", headers=auth(token)) as response:
            assert response.status == 404
        async with session.get(lan.url + "/api/v1/devices", headers=auth(token)) as response:
            assert response.status == 200


async def test_plain_http_when_tls_is_off(start_lan: Any) -> None:
    async with start_lan(tls_on=False) as lan:
        assert lan.url.startswith("http://127.0.0.1:")
        assert lan.server.fingerprint is None
        token = await lan.new_token()
        async with lan.session(headers=auth(token)) as session:
            async with session.get(lan.url + "/api/v1/health") as response:
                assert (await response.json())["tls"] is False
            async with session.get(lan.url + "/api/v1/devices") as response:
                assert response.status == 200


async def test_facts_and_clean_stop(start_lan: Any) -> None:
    async with start_lan() as lan:
        facts = lan.runtime.facts
        assert facts["lan_url"] == lan.server.url
        assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", facts["lan_fingerprint"])
        port = lan.server.bound_port
        control = lan.server.control_path
        assert control.exists()
    assert "lan_url" not in lan.runtime.facts
    assert not control.exists()
    with pytest.raises(OSError):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


async def test_inclusion_security_on_a_radio_without_s2_is_accepted(lan: Any, token: str) -> None:
    # The test radio has no S2: "none" is exactly what it does, and "auto" means "none" without S2.
    async with lan.session(headers=auth(token)) as session:
        url = lan.url + "/api/v1/inclusion"
        for security in ("none", "auto"):
            body = {"protocol": "zwave", "seconds": 30, "security": security}
            async with session.post(url, json=body) as response:
                assert response.status == 200, await response.text()
        async with session.post(url, json={"protocol": "zwave", "security": "S0 please"}) as response:
            assert response.status == 422
            assert (await response.json())["field"] == "security"
    assert lan.radio.inclusion == [30, 30]
