"""Checking a rules seed file (`[rules] file`) as configuration: JSON syntax and each rule's shape.

Devices are not known when the config is checked (they live in the store and on the radios), so any
well-formed device id is accepted here with every capability; the rules engine re-checks each rule
against the real devices when it loads it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hub_agent.config import Config
from hub_core.errors import ConfigProblem, RuleError
from hub_core.model import CAPABILITIES, Device, DeviceId, protocol_of
from local_rules.parser import parse_rule


def _any_device(device_id: str) -> Device | None:
    protocol = protocol_of(device_id)
    if protocol is None:
        return None
    return Device(DeviceId(device_id), protocol, device_id, capabilities=tuple(sorted(CAPABILITIES)))


def _line_of_rule(text: str, rule: object, index: int) -> int:
    """The line where a rule starts: found by its id, else the line of the index-th top-level object."""
    if isinstance(rule, dict) and isinstance(rule.get("id"), str):
        match = re.search(r'"id"\s*:\s*' + re.escape(json.dumps(rule["id"])), text)
        if match:
            return text.count("\n", 0, match.start()) + 1
    return 1


def check_seed_rules(config: Config) -> list[ConfigProblem]:
    """Every problem in the configured seed file, as `file:line: message`; [] if none or no file."""
    if config.rules is None or config.rules.file is None:
        return []
    path: Path = config.rules.file
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [ConfigProblem(name, 0, f"cannot read rules file: {exc}")]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [ConfigProblem(name, exc.lineno, f"JSON syntax error: {exc.msg} (column {exc.colno})")]
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        rules = data["rules"]
    elif isinstance(data, list):
        rules = data
    else:
        rules = [data]
    sun = config.hub.latitude is not None
    problems: list[ConfigProblem] = []
    for index, rule in enumerate(rules):
        try:
            parse_rule(rule, _any_device, sun_available=sun)
        except RuleError as exc:
            line = _line_of_rule(text, rule, index)
            label = rule.get("id") if isinstance(rule, dict) else None
            where = f"rule {label!r}" if isinstance(label, str) else f"rule #{index + 1}"
            problems.extend(
                ConfigProblem(name, line, f"{where}: {p.path}: {p.message}") for p in exc.problems
            )
    return problems
