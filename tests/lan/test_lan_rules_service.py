"""The LAN rules routes over the real rules engine (hub_agent.rules.service.RulesService), end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from hub_agent.rules.service import RulesService

SWITCH, DIMMER = "zwave-2", "zwave-3"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rules_put_validate_fire_and_delete_through_the_rules_service(start_lan: Any) -> None:
    services: list[RulesService] = []

    def install(runtime: Any) -> None:
        service = RulesService(runtime)
        service.load()
        runtime.rules = service
        services.append(service)

    async with start_lan(configure=install) as lan:
        token = await lan.new_token()
        service = services[0]
        running = asyncio.create_task(service.run(), name="rules")
        try:
            rule = {
                "id": "hall",
                "enabled": True,
                "mode": "single",
                "triggers": [{"type": "state", "device": SWITCH, "attribute": "switch", "to": "on"}],
                "actions": [
                    {"type": "command", "device": DIMMER, "command": "set_level", "args": {"level": 30}}
                ],
            }
            async with lan.session(headers=auth(token)) as session:
                base = lan.url + "/api/v1/rules"
                async with session.put(base + "/hall", json=rule) as response:
                    stored = await response.json()
                    assert response.status == 200, stored
                    assert stored["last_fired"] is None

                bad = {
                    "mode": "sometimes",
                    "triggers": [{"type": "state", "device": "zwave-99", "attribute": "switch", "to": "on"}],
                    "actions": [{"type": "delay", "seconds": -1}],
                }
                async with session.put(base + "/broken", json=bad) as response:
                    answer = await response.json()
                    assert response.status == 422, answer
                    assert answer["error"] == "invalid_rule"
                    paths = [p["path"] for p in answer["problems"]]
                    assert len(paths) >= 3, answer  # every problem, not only the first
                    assert any(p.startswith("$.mode") for p in paths)
                    assert any(p.startswith("$.triggers[0]") for p in paths)
                    assert any(p.startswith("$.actions[0]") for p in paths)

                async with session.ws_connect(lan.url + "/api/v1/events") as ws:
                    url = lan.url + f"/api/v1/devices/{SWITCH}/commands"
                    async with session.post(url, json={"command": "on"}) as response:
                        assert response.status == 200
                    # The rule's command and its rule_fired event may arrive in either order.
                    seen: list[dict[str, Any]] = []
                    while not (
                        any(e["type"] == "rule_fired" and e["rule"] == "hall" for e in seen)
                        and any(e.get("device") == DIMMER and e.get("attribute") == "level" for e in seen)
                    ):
                        message = await asyncio.wait_for(ws.receive(), 5)
                        assert message.type is aiohttp.WSMsgType.TEXT, (message, seen)
                        seen.append(json.loads(message.data))
                    level = [e for e in seen if e.get("device") == DIMMER and e.get("attribute") == "level"]
                    assert level[0]["value"] == 30
                assert b"zwave-3:set_level:[('level', 30)]" in lan.radio.written

                async with session.get(base + "/hall") as response:
                    assert (await response.json())["last_fired"] is not None
                async with session.delete(base + "/hall") as response:
                    assert response.status == 200
                async with session.get(base) as response:
                    assert await response.json() == []
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
