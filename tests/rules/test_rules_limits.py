"""Rules are bounded: size, count, name and description length; a store filled by an older version
without limits cannot exhaust memory at start-up (4,000 rules of 60 KB took RSS to 547 MB)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hub_agent.config import RulesSection
from hub_core.clock import ManualClock
from hub_core.errors import RuleError
from hubtest.rules_world import build_world, device

LAMP = "zwave-2"


def _household() -> list[Any]:
    return [device(LAMP, "switch", "level")]


def _rule(rule_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "triggers": [{"type": "state", "device": LAMP, "attribute": "switch", "to": "on"}],
        "actions": [{"type": "command", "device": LAMP, "command": "off"}],
        **extra,
    }


async def test_a_rule_larger_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    world = build_world(tmp_path, _household(), ManualClock(), rules=RulesSection(max_rule_bytes=2048))
    try:
        with pytest.raises(RuleError, match=r"the rule is \d+ bytes as JSON; the limit is 2048"):
            await world.service.put_rule(
                _rule("big", description="x" * 1500, name="y" * 150, extra="z" * 600)
            )
        assert world.service.get_rule("big") is None
    finally:
        await world.stop()


async def test_the_number_of_rules_is_capped_but_existing_ones_can_be_replaced(tmp_path: Path) -> None:
    world = build_world(tmp_path, _household(), ManualClock(), rules=RulesSection(max_rules=3))
    try:
        for i in range(3):
            await world.service.put_rule(_rule(f"r{i}"))
        with pytest.raises(RuleError, match="already has 3 rules, the limit") as caught:
            await world.service.put_rule(_rule("r3"))
        assert caught.value.problems[0].path == "$.id"
        await world.service.put_rule(_rule("r1", name="renamed"))  # a replacement is not a new rule
        assert await world.service.delete_rule("r0")
        await world.service.put_rule(_rule("r3"))
        assert [r["id"] for r in world.service.list_rules()] == ["r1", "r2", "r3"]
    finally:
        await world.stop()


@pytest.mark.parametrize(
    ("field", "longest"),
    [("name", 200), ("description", 2000)],
)
async def test_names_and_descriptions_are_bounded(tmp_path: Path, field: str, longest: int) -> None:
    world = build_world(tmp_path, _household(), ManualClock())
    try:
        await world.service.put_rule(_rule("ok", **{field: "n" * longest}))
        with pytest.raises(
            RuleError, match=f"{field} may be at most {longest} characters, not {longest + 1}"
        ):
            await world.service.put_rule(_rule("long", **{field: "n" * (longest + 1)}))
    finally:
        await world.stop()


async def test_rules_beyond_the_limits_in_an_old_store_are_not_loaded_and_can_be_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    world = build_world(tmp_path, _household(), clock)
    await world.service.put_rule(_rule("a-small"))
    huge = json.dumps(_rule("b-huge", name="h" * 60_000))

    def sneak(conn: sqlite3.Connection) -> None:
        # What an older version without limits left behind: one 60 KB rule and 20 ordinary ones.
        conn.execute("INSERT INTO rules (id, json, updated) VALUES ('b-huge', ?, 0)", (huge,))
        for i in range(20):
            conn.execute(
                "INSERT INTO rules (id, json, updated) VALUES (?, ?, 0)",
                (f"c{i:02d}", json.dumps(_rule(f"c{i:02d}"))),
            )

    await world.runtime.db.write(sneak)
    await world.stop()
    with caplog.at_level(logging.ERROR, logger="hub_agent.rules.service"):
        world = build_world(tmp_path, _household(), clock, rules=RulesSection(max_rules=10))
    try:
        loaded = [r["id"] for r in world.service.list_rules()]
        assert loaded == ["a-small", *[f"c{i:02d}" for i in range(9)]]
        assert any("12 stored rules exceed" in r.getMessage() for r in caplog.records)
        assert await world.service.delete_rule("b-huge")  # removable although it was never loaded
        assert not await world.service.delete_rule("b-huge")
    finally:
        await world.stop()
