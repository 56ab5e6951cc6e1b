"""Rule JSON -> typed `Rule`, reporting every problem with its JSON path and a sentence.

Rules of this file: the parser never stops at the first problem and never raises anything but
`RuleError` (property-tested: no input crashes it). Unknown keys are errors, as in the config file,
because a misspelt `"too": "on"` silently ignored is a rule that never fires.

Extensions beyond CONTRACT section 6 (all optional): `name`/`description` strings; rule `max`
(1-100, default 10: the bound for `queued` and `parallel`); state condition `value` (one value or a
list); time condition `weekdays` (["mon", ...]) and `after_offset_minutes`/`before_offset_minutes`
for sun points; wait `on_timeout` ("stop", the default, or "continue").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from hub_core.errors import InvalidCommand, RuleError, RuleProblem
from hub_core.model import ATTRIBUTES, BUTTON_ACTIONS, Command, Device, Value, make_command
from local_rules.model import (
    Action,
    AllCondition,
    AnyCondition,
    AtTrigger,
    ButtonTrigger,
    CommandAction,
    Condition,
    CronTrigger,
    DelayAction,
    EnableRuleAction,
    HubStartTrigger,
    Mode,
    NotCondition,
    NotifyAction,
    NumericCondition,
    NumericTrigger,
    OnTimeout,
    Rule,
    SceneAction,
    StateCondition,
    StateTrigger,
    SunEvent,
    SunTrigger,
    TimeCondition,
    TimePoint,
    Trigger,
    WaitAction,
)
from local_rules.schedule import Place, next_fire
from local_rules.shapes import MAX_ITEMS, Shapes, _kind, _show

DeviceLookup = Callable[[str], Device | None]

RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DELAY = 7 * 86400.0  # a week: longer "delays" are schedules and belong in a time trigger
MAX_MESSAGE = 1000
MAX_NAME = 200
MAX_DESCRIPTION = 2000
_CRON_PROBE = 1_767_225_600.0  # 2026-01-01: any real schedule fires within the next 400 days
_UTC = Place("UTC")
MAX_DEPTH = 8  # nesting of all/any/not
#: Fields the API adds to a rule it returns; accepted and ignored on input, so GET-edit-PUT works.
RUNTIME_FIELDS = ("last_fired", "last_error")


class _Parser(Shapes):
    """Walks one rule object, collecting problems instead of stopping at the first."""

    def __init__(self, devices: DeviceLookup, sun_available: bool) -> None:
        super().__init__()
        self.devices = devices
        self.sun_available = sun_available

    # --- devices and attributes ---------------------------------------------------------------

    def device(self, path: str, value: object) -> Device | None:
        device_id = self.string(path, value, "device")
        if device_id is None:
            return None
        device = self.devices(device_id)
        if device is None:
            self.problem(path, f"unknown device {device_id!r}")
        return device

    def attribute(
        self, path: str, value: object, device: Device | None, *, numeric: bool = False
    ) -> str | None:
        name = self.string(path, value, "attribute")
        if name is None:
            return None
        spec = ATTRIBUTES.get(name)
        if spec is None:
            self.problem(
                path, f"unknown attribute {name!r}; known attributes: {', '.join(sorted(ATTRIBUTES))}"
            )
            return None
        if device is not None and name not in device.capabilities:
            self.problem(
                path,
                f"{device.id} has no {name!r} attribute (it has: {', '.join(device.capabilities) or 'none'})",
            )
            return None
        if numeric and spec.choices:
            self.problem(path, f"{name!r} is not numeric (its values are {', '.join(spec.choices)})")
            return None
        return name

    def value(self, path: str, value: object, attribute: str | None) -> Value | None:
        if attribute is None:
            return None
        try:
            return ATTRIBUTES[attribute].check(value)
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def values(self, path: str, value: object, attribute: str | None) -> tuple[Value, ...]:
        raw = value if isinstance(value, list) else [value]
        if not raw:
            self.problem(path, "must list at least one value")
        out: list[Value] = []
        for i, item in enumerate(raw[:MAX_ITEMS]):
            checked = self.value(f"{path}[{i}]" if isinstance(value, list) else path, item, attribute)
            if checked is not None:
                out.append(checked)
        return tuple(out)

    def bounds(
        self, path: str, data: Mapping[str, Any], attribute: str | None
    ) -> tuple[float | None, float | None]:
        above = self.number(f"{path}.above", data["above"], "above") if "above" in data else None
        below = self.number(f"{path}.below", data["below"], "below") if "below" in data else None
        if "above" not in data and "below" not in data:
            self.problem(path, "needs 'above', 'below' or both")
        if above is not None and below is not None and above >= below:
            self.problem(path, f"above ({above:g}) must be less than below ({below:g}), or nothing can match")
        return above, below

    # --- time ---------------------------------------------------------------------------------

    def hhmm(self, path: str, value: object) -> int | None:
        if not isinstance(value, str) or not (match := _HHMM.fullmatch(value)):
            self.problem(path, f'time must be "HH:MM" (24-hour clock), not {_show(value)}')
            return None
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            self.problem(path, f"{value!r} is not a time of day (hours 00-23, minutes 00-59)")
            return None
        return hour * 60 + minute

    def need_sun(self, path: str) -> None:
        if not self.sun_available:
            self.problem(path, "sunrise/sunset need the hub's location: set [hub] latitude and longitude")

    def time_point(self, path: str, value: object, offset: object) -> TimePoint | None:
        if value in ("sunrise", "sunset"):
            self.need_sun(path)
            minutes = 0.0
            if offset is not None:
                minutes = self.number(f"{path}_offset_minutes", offset, "offset_minutes", -720, 720) or 0.0
            return TimePoint(sun=SunEvent(str(value)), offset_minutes=minutes)
        if offset is not None:
            self.problem(f"{path}_offset_minutes", "an offset applies only to sunrise or sunset")
        if isinstance(value, str) and not _HHMM.fullmatch(value):
            self.problem(path, f'time must be "HH:MM", "sunrise" or "sunset", not {_show(value)}')
            return None
        minutes_of_day = self.hhmm(path, value)
        return None if minutes_of_day is None else TimePoint(minutes=minutes_of_day)

    # --- the parts of a rule ------------------------------------------------------------------

    def trigger(self, path: str, raw: object) -> Trigger | None:
        data = self.obj(path, raw, "a trigger")
        if data is None:
            return None
        kind = self.choice(
            f"{path}.type",
            data.get("type"),
            "trigger type",
            ("state", "numeric", "button", "time", "hub_start"),
        )
        if kind == "state":
            self.keys(path, data, ("type", "device", "attribute"), ("to", "from"))
            device = self.device(f"{path}.device", data.get("device"))
            attribute = (
                self.attribute(f"{path}.attribute", data.get("attribute"), device)
                if "attribute" in data
                else None
            )
            to = self.value(f"{path}.to", data["to"], attribute) if "to" in data else None
            from_ = self.value(f"{path}.from", data["from"], attribute) if "from" in data else None
            if device is None or attribute is None:
                return None
            return StateTrigger(device.id, attribute, to, from_)
        if kind == "numeric":
            self.keys(path, data, ("type", "device", "attribute"), ("above", "below"))
            device = self.device(f"{path}.device", data.get("device"))
            attribute = (
                self.attribute(f"{path}.attribute", data.get("attribute"), device, numeric=True)
                if "attribute" in data
                else None
            )
            above, below = self.bounds(path, data, attribute)
            if device is None or attribute is None:
                return None
            return NumericTrigger(device.id, attribute, above, below)
        if kind == "button":
            self.keys(path, data, ("type", "device"), ("button", "action"))
            device = self.device(f"{path}.device", data.get("device"))
            if device is not None and "button" not in device.capabilities:
                self.problem(f"{path}.device", f"{device.id} has no buttons")
            button = None
            if "button" in data:
                number = self.number(f"{path}.button", data["button"], "button", 1, 255)
                if number is not None and number != int(number):
                    self.problem(f"{path}.button", f"button must be a whole number, not {number:g}")
                button = None if number is None else int(number)
            action = (
                self.choice(f"{path}.action", data["action"], "button action", BUTTON_ACTIONS)
                if "action" in data
                else None
            )
            return None if device is None else ButtonTrigger(device.id, button, action)
        if kind == "time":
            self.keys(path, data, ("type",), ("at", "sun", "offset_minutes", "cron"))
            given = [key for key in ("at", "sun", "cron") if key in data]
            if len(given) != 1:
                self.problem(
                    path,
                    "a time trigger needs exactly one of 'at', 'sun' or 'cron'"
                    + (f", not {' and '.join(given)}" if given else ""),
                )
                return None
            if "offset_minutes" in data and given != ["sun"]:
                self.problem(f"{path}.offset_minutes", "offset_minutes applies only to a 'sun' trigger")
            if given == ["at"]:
                minutes = self.hhmm(f"{path}.at", data["at"])
                return None if minutes is None else AtTrigger(minutes // 60, minutes % 60)
            if given == ["sun"]:
                event = self.choice(f"{path}.sun", data["sun"], "sun", ("sunrise", "sunset"))
                offset = (
                    self.number(f"{path}.offset_minutes", data["offset_minutes"], "offset_minutes", -720, 720)
                    if "offset_minutes" in data
                    else 0.0
                )
                if event is not None:
                    self.need_sun(f"{path}.sun")
                return None if event is None or offset is None else SunTrigger(SunEvent(event), offset)
            return self.cron(f"{path}.cron", data["cron"])
        if kind == "hub_start":
            self.keys(path, data, ("type",), ())
            return HubStartTrigger()
        return None

    def cron(self, path: str, value: object) -> CronTrigger | None:
        text = self.string(path, value, "cron")
        if text is None:
            return None
        fields = text.split()
        if len(fields) != 5:
            self.problem(
                path,
                f"cron must have 5 fields (minute hour day month weekday), not {len(fields)}: {_show(text)}",
            )
            return None
        # Imported here: croniter and dateutil (~2.5 MB) are loaded only by a hub with a cron rule.
        from croniter import croniter

        try:
            valid = bool(croniter.is_valid(text))
        except Exception:  # croniter's own validation can trip on odd input; it is still invalid
            valid = False
        if not valid:
            self.problem(path, f"{_show(text)} is not a valid cron expression")
            return None
        trigger = CronTrigger(" ".join(fields))
        if next_fire(trigger, _CRON_PROBE, _UTC) is None:
            self.problem(path, f"{_show(text)} never matches a real date")
            return None
        return trigger

    def condition(self, path: str, raw: object, depth: int = 0) -> Condition | None:
        data = self.obj(path, raw, "a condition")
        if data is None:
            return None
        kind = self.choice(
            f"{path}.type",
            data.get("type"),
            "condition type",
            ("state", "numeric", "time", "all", "any", "not"),
        )
        if kind == "state":
            self.keys(path, data, ("type", "device", "attribute", "value"), ())
            device = self.device(f"{path}.device", data.get("device"))
            attribute = (
                self.attribute(f"{path}.attribute", data.get("attribute"), device)
                if "attribute" in data
                else None
            )
            values = self.values(f"{path}.value", data["value"], attribute) if "value" in data else ()
            if device is None or attribute is None or not values:
                return None
            return StateCondition(device.id, attribute, values)
        if kind == "numeric":
            self.keys(path, data, ("type", "device", "attribute"), ("above", "below"))
            device = self.device(f"{path}.device", data.get("device"))
            attribute = (
                self.attribute(f"{path}.attribute", data.get("attribute"), device, numeric=True)
                if "attribute" in data
                else None
            )
            above, below = self.bounds(path, data, attribute)
            if device is None or attribute is None:
                return None
            return NumericCondition(device.id, attribute, above, below)
        if kind == "time":
            self.keys(
                path,
                data,
                ("type",),
                ("after", "before", "after_offset_minutes", "before_offset_minutes", "weekdays"),
            )
            if "after" not in data and "before" not in data and "weekdays" not in data:
                self.problem(path, "a time condition needs 'after', 'before' or 'weekdays'")
            after = (
                self.time_point(f"{path}.after", data["after"], data.get("after_offset_minutes"))
                if "after" in data
                else None
            )
            before = (
                self.time_point(f"{path}.before", data["before"], data.get("before_offset_minutes"))
                if "before" in data
                else None
            )
            for side in ("after", "before"):
                if f"{side}_offset_minutes" in data and side not in data:
                    self.problem(f"{path}.{side}_offset_minutes", f"there is no {side!r} to offset")
            if after is not None and before is not None and after == before:
                self.problem(path, "'after' and 'before' are the same time, so the window is empty")
            weekdays = frozenset(range(7))
            if "weekdays" in data:
                days = self.items(f"{path}.weekdays", data["weekdays"], "weekdays", allow_empty=False)
                chosen = {
                    self.choice(f"{path}.weekdays[{i}]", d, "weekday", WEEKDAYS) for i, d in enumerate(days)
                }
                weekdays = frozenset(WEEKDAYS.index(d) for d in chosen if d is not None)
            return TimeCondition(after, before, weekdays)
        if kind in ("all", "any", "not"):
            self.keys(path, data, ("type", "conditions"), ())
            if depth >= MAX_DEPTH:
                self.problem(path, f"conditions may nest at most {MAX_DEPTH} deep")
                return None
            raw_list = (
                self.items(f"{path}.conditions", data.get("conditions"), "conditions", allow_empty=False)
                if "conditions" in data
                else []
            )
            subs = [self.condition(f"{path}.conditions[{i}]", c, depth + 1) for i, c in enumerate(raw_list)]
            parsed = tuple(c for c in subs if c is not None)
            if kind == "all":
                return AllCondition(parsed)
            if kind == "any":
                return AnyCondition(parsed)
            return NotCondition(parsed)
        return None

    def command(self, path: str, data: Mapping[str, Any]) -> Command | None:
        device = self.device(f"{path}.device", data.get("device"))
        if device is None:
            return None
        try:
            return make_command(device, data.get("command"), data.get("args"))
        except InvalidCommand as exc:
            text = str(exc)
            about_name = text.startswith(("unknown command", "command must")) or "does not support" in text
            where = "command" if about_name else "args"
            self.problem(f"{path}.{where}", str(exc))
            return None

    def action(self, path: str, raw: object) -> Action | None:
        data = self.obj(path, raw, "an action")
        if data is None:
            return None
        kinds = ("command", "delay", "wait", "scene", "enable_rule", "disable_rule", "notify")
        kind = self.choice(f"{path}.type", data.get("type"), "action type", kinds)
        if kind == "command":
            self.keys(path, data, ("type", "device", "command"), ("args",))
            command = self.command(path, data)
            return None if command is None else CommandAction(command)
        if kind == "delay":
            self.keys(path, data, ("type", "seconds"), ())
            seconds = (
                self.number(f"{path}.seconds", data["seconds"], "seconds", 0, MAX_DELAY)
                if "seconds" in data
                else None
            )
            return None if seconds is None else DelayAction(seconds)
        if kind == "wait":
            self.keys(path, data, ("type", "device", "attribute", "to", "timeout_seconds"), ("on_timeout",))
            device = self.device(f"{path}.device", data.get("device"))
            attribute = (
                self.attribute(f"{path}.attribute", data.get("attribute"), device)
                if "attribute" in data
                else None
            )
            values = self.values(f"{path}.to", data["to"], attribute) if "to" in data else ()
            timeout = (
                self.number(
                    f"{path}.timeout_seconds", data["timeout_seconds"], "timeout_seconds", 0, MAX_DELAY
                )
                if "timeout_seconds" in data
                else None
            )
            on_timeout = (
                self.choice(f"{path}.on_timeout", data["on_timeout"], "on_timeout", ("stop", "continue"))
                if "on_timeout" in data
                else "stop"
            )
            if device is None or attribute is None or not values or timeout is None or on_timeout is None:
                return None
            return WaitAction(device.id, attribute, values, timeout, OnTimeout(on_timeout))
        if kind == "scene":
            self.keys(path, data, ("type", "commands"), ())
            raw_list = (
                self.items(f"{path}.commands", data.get("commands"), "commands", allow_empty=False)
                if "commands" in data
                else []
            )
            commands: list[Command] = []
            for i, item in enumerate(raw_list):
                sub = self.obj(f"{path}.commands[{i}]", item, "a scene command")
                if sub is None:
                    continue
                self.keys(f"{path}.commands[{i}]", sub, ("device", "command"), ("args",))
                command = self.command(f"{path}.commands[{i}]", sub)
                if command is not None:
                    commands.append(command)
            return SceneAction(tuple(commands)) if commands else None
        if kind in ("enable_rule", "disable_rule"):
            self.keys(path, data, ("type", "rule"), ())
            target = data.get("rule")
            if "rule" in data and (not isinstance(target, str) or not RULE_ID.fullmatch(target)):
                self.problem(f"{path}.rule", f"rule must be a rule id, not {_show(target)}")
                return None
            if not isinstance(target, str):
                return None
            return EnableRuleAction(target, kind == "enable_rule")
        if kind == "notify":
            self.keys(path, data, ("type", "message"), ())
            message = (
                self.string(f"{path}.message", data["message"], "message") if "message" in data else None
            )
            if message is not None and len(message) > MAX_MESSAGE:
                self.problem(
                    f"{path}.message", f"message may be at most {MAX_MESSAGE} characters, not {len(message)}"
                )
                return None
            return None if message is None else NotifyAction(message)
        return None

    def rule(self, raw: object) -> Rule | None:
        data = self.obj("$", raw, "a rule")
        if data is None:
            return None
        self.keys(
            "$",
            data,
            ("id", "triggers", "actions"),
            ("enabled", "mode", "max", "conditions", "name", "description", *RUNTIME_FIELDS),
        )
        rule_id = data.get("id")
        if "id" in data and (not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id)):
            self.problem(
                "$.id",
                "id must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
                f"not {_show(rule_id)}",
            )
        for key, longest in (("name", MAX_NAME), ("description", MAX_DESCRIPTION)):
            if key in data and not isinstance(data[key], str):
                self.problem(f"$.{key}", f"{key} must be a string, not {_kind(data[key])}")
            elif key in data and len(data[key]) > longest:
                self.problem(f"$.{key}", f"{key} may be at most {longest} characters, not {len(data[key])}")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problem("$.enabled", f"enabled must be true or false, not {_kind(enabled)}")
        mode = self.choice("$.mode", data.get("mode", "single"), "mode", tuple(m.value for m in Mode))
        max_runs = 10
        if "max" in data:
            number = self.number("$.max", data["max"], "max", 1, 100)
            if number is not None and number != int(number):
                self.problem("$.max", f"max must be a whole number, not {number:g}")
            max_runs = int(number) if number is not None else 10
        triggers_raw = (
            self.items("$.triggers", data.get("triggers"), "triggers", allow_empty=False)
            if "triggers" in data
            else []
        )
        triggers = [self.trigger(f"$.triggers[{i}]", t) for i, t in enumerate(triggers_raw)]
        conditions_raw = (
            self.items("$.conditions", data.get("conditions"), "conditions", allow_empty=True)
            if "conditions" in data
            else []
        )
        conditions = [self.condition(f"$.conditions[{i}]", c) for i, c in enumerate(conditions_raw)]
        actions_raw = (
            self.items("$.actions", data.get("actions"), "actions", allow_empty=False)
            if "actions" in data
            else []
        )
        actions = [self.action(f"$.actions[{i}]", a) for i, a in enumerate(actions_raw)]
        if self.problems:
            return None
        assert isinstance(rule_id, str) and isinstance(enabled, bool) and mode is not None
        source = {
            "id": rule_id,
            "enabled": enabled,
            "mode": mode,
            **{k: v for k, v in data.items() if k not in ("id", "enabled", "mode", *RUNTIME_FIELDS)},
        }
        return Rule(
            id=rule_id,
            enabled=enabled,
            mode=Mode(mode),
            max_runs=max_runs,
            triggers=tuple(t for t in triggers if t is not None),
            conditions=tuple(c for c in conditions if c is not None),
            actions=tuple(a for a in actions if a is not None),
            source=source,
            digest=actions_digest(source.get("actions")),
        )


def actions_digest(actions: object) -> str:
    """A stable digest of a rule's actions JSON."""
    text = json.dumps(actions, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_rule(data: object, devices: DeviceLookup, *, sun_available: bool = True) -> Rule:
    """Validate rule JSON against the known devices; raise RuleError listing every problem."""
    parser = _Parser(devices, sun_available)
    try:
        rule = parser.rule(data)
    except RecursionError:
        raise RuleError([RuleProblem("$", "the rule is nested too deeply")]) from None
    if rule is None or parser.problems:
        raise RuleError(parser.problems or [RuleProblem("$", "the rule is invalid")])
    return rule
