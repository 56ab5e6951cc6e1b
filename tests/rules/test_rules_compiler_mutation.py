"""The compiler's trigger labels (issue 19): each kind of trigger reads as the rule_fired event shows it."""

from __future__ import annotations

from typing import Any

import pytest

from hubtest.rules_world import device
from local_rules.compiler import label
from local_rules.parser import parse_rule

DEVICES = {d.id: d for d in (device("zwave-2", "switch", "button", switch="off"),)}


def _trigger(trigger: dict[str, Any]) -> Any:
    rule = parse_rule(
        {
            "id": "r",
            "triggers": [trigger],
            "actions": [{"type": "command", "device": "zwave-2", "command": "on"}],
        },
        DEVICES.get,
    )
    return rule.triggers[0]


@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        ({"type": "button", "device": "zwave-2"}, "zwave-2 button any"),
        ({"type": "button", "device": "zwave-2", "button": 1, "action": "double"}, "zwave-2 button 1 double"),
        ({"type": "time", "at": "07:05"}, "at 07:05"),
        ({"type": "time", "sun": "sunset"}, "sunset"),
        ({"type": "time", "sun": "sunrise", "offset_minutes": -15}, "sunrise-15 min"),
        ({"type": "time", "cron": "*/5 * * * 1-5"}, "cron */5 * * * 1-5"),
        ({"type": "hub_start"}, "hub_start"),
    ],
)
def test_each_trigger_kind_has_its_label(trigger: dict[str, Any], text: str) -> None:
    assert label(_trigger(trigger)) == text
