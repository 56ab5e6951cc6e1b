"""Fuzzing with hypothesis: rule bodies with wild leaves against the real parser, and random requests
over every route of the real LAN server. Only documented errors may come out: RuleError from the parser;
JSON errors from the server (4xx, or 501-504 about the hub's own radios; never a 500)."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lan.conftest import auth, running_lan

from hub_core.errors import RuleError
from hubtest.rules_world import device
from local_rules.parser import parse_rule

DEVICES = {
    d.id: d
    for d in (
        device("zwave-2", "switch", "level"),
        device("zwave-5", "temperature", "heating_setpoint", "thermostat_mode", "power"),
        device("ble-a4c138000001", "button"),
        device("zigbee-00158d0001a2b3c4", "motion", "battery"),
    )
}
#: Valid rules that between them use every field the parser reads.
TEMPLATES: list[dict[str, Any]] = [
    {
        "id": "t1",
        "name": "n",
        "mode": "queued",
        "max": 3,
        "triggers": [
            {"type": "numeric", "device": "zwave-5", "attribute": "temperature", "above": 20, "below": 30},
            {"type": "button", "device": "ble-a4c138000001", "button": 1, "action": "pressed"},
            {"type": "time", "sun": "sunset", "offset_minutes": -15},
        ],
        "conditions": [
            {"type": "state", "device": "zwave-2", "attribute": "level", "value": [1, 2]},
            {
                "type": "time",
                "after": "sunrise",
                "after_offset_minutes": 5,
                "before": "22:00",
                "weekdays": ["mon"],
            },
            {
                "type": "not",
                "conditions": [{"type": "numeric", "device": "zwave-5", "attribute": "power", "below": 5}],
            },
        ],
        "actions": [
            {
                "type": "command",
                "device": "zwave-2",
                "command": "set_level",
                "args": {"level": 50, "duration": 2},
            },
            {"type": "delay", "seconds": 1.5},
            {"type": "wait", "device": "zwave-2", "attribute": "switch", "to": "on", "timeout_seconds": 30},
            {
                "type": "scene",
                "commands": [{"device": "zwave-5", "command": "set_heating_setpoint", "args": {"value": 21}}],
            },
            {"type": "notify", "message": "m"},
        ],
    },
    {
        "id": "t2",
        "triggers": [{"type": "state", "device": "zwave-5", "attribute": "power", "to": 5, "from": 1}],
        "actions": [{"type": "enable_rule", "rule": "t1"}],
    },
]

wild = st.one_of(
    st.integers(),
    st.integers(min_value=10**15, max_value=10**600),
    st.integers(max_value=-(10**15), min_value=-(10**600)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] + [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] + [path]
    return [path]


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


@settings(max_examples=600, deadline=None)
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_rule_bodies_with_wild_leaves_parse_or_raise_rule_error(
    template: dict[str, Any], data: st.DataObject
) -> None:
    rule = copy.deepcopy(template)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_leaves(rule)))
        rule = _replace(rule, path, data.draw(wild))
    try:
        parsed = parse_rule(rule, DEVICES.get)
    except RuleError as exc:
        assert exc.problems and all(p.path.startswith("$") and p.message for p in exc.problems)
        return
    json.dumps(parsed.source)  # whatever is accepted can be stored


# --- every route of the live server ------------------------------------------------------------------

json_bodies = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**500), max_value=10**500),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: Field names the handlers read, so the fuzz reaches past "unknown field".
KEYS = [
    "command",
    "args",
    "level",
    "duration",
    "kelvin",
    "value",
    "protocol",
    "seconds",
    "name",
    "code",
    "triggers",
    "actions",
    "id",
    "mode",
    "max",
    "pin",
    "key",
    "version",
]
objects = st.dictionaries(st.sampled_from(KEYS), json_bodies, max_size=4)
raw_bodies = st.one_of(
    objects.map(lambda o: json.dumps(o).encode()),
    json_bodies.map(lambda o: json.dumps(o).encode()),
    st.binary(max_size=64),
    st.just(b'{"level": 1e999}'),
    st.just(b'{"seconds": NaN}'),
)
path_params = st.one_of(
    st.sampled_from(["zwave-2", "zwave-3", "t1", "0123456789ab"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=30),
)


async def test_random_requests_over_every_route_never_get_a_500(
    tmp_path: Path, _no_lingering_tasks: None
) -> None:
    async with running_lan(tmp_path) as lan:
        token = await lan.new_token()
        routes = [(r.method, r.path) for r in lan.server.api.routes() if r.name != "events"]
        loop = asyncio.get_running_loop()
        answers: list[tuple[str, str, int, str]] = []
        hit: set[tuple[str, str]] = set()
        async with lan.session(headers={**auth(token), "Content-Type": "application/json"}) as session:

            async def send(method: str, path: str, body: bytes) -> None:
                async with session.request(method, lan.url + path, data=body) as response:
                    text = await response.text()
                    answers.append((method, path, response.status, text))
                    if response.status >= 400:
                        assert json.loads(text)["error"], text  # the JSON error shape

            @settings(
                max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
            )
            @given(route=st.sampled_from(routes), param=path_params, body=raw_bodies)
            def fuzz(route: tuple[str, str], param: str, body: bytes) -> None:
                method, template = route
                path = re.sub(r"\{[^}]+\}", quote(param, safe=""), template)
                hit.add(route)
                asyncio.run_coroutine_threadsafe(send(method, path, body), loop).result(timeout=30)

            await asyncio.to_thread(fuzz)
        # No 500 ever; a 5xx is only a documented answer about the hub's own state (a radio it lacks
        # or that is down: 501/503, a device that did not answer: 502/504), in the JSON error shape.
        broken = [a for a in answers if a[2] == 500 or a[2] > 504]
        assert not broken, broken[:3]
        assert hit == set(routes)  # every route was reached
