"""The generic JSON shapes a rule is made of (objects, lists, strings, numbers, choices), checked
with every problem collected under its JSON path; `local_rules.parser` builds rules on top of this.

Rules of this file: nothing here raises for bad input; each check records a `RuleProblem` and returns
None (or an empty list), so the parser can go on and report every problem at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub_core.errors import RuleProblem
from hub_core.model import check_number, show_value

MAX_ITEMS = 100  # triggers, conditions, actions, scene commands each


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: object) -> str:
    return show_value(value)


class Shapes:
    """Collects problems while checking the generic shapes of one JSON document."""

    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []

    def problem(self, path: str, message: str) -> None:
        """Record one problem at `path`."""
        self.problems.append(RuleProblem(path, message))

    def keys(
        self, path: str, data: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
    ) -> bool:
        ok = True
        for key in required:
            if key not in data:
                self.problem(f"{path}.{key}", f"{key!r} is required")
                ok = False
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(f"{path}.{key}", f"unknown key {str(key)!r} (allowed here: {hint})")
        return ok

    def obj(self, path: str, value: object, what: str) -> Mapping[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"{what} must be an object, not {_kind(value)}")
            return None
        return value

    def items(self, path: str, value: object, what: str, *, allow_empty: bool) -> list[Any]:
        if not isinstance(value, list):
            self.problem(path, f"{what} must be a list, not {_kind(value)}")
            return []
        if not value and not allow_empty:
            self.problem(path, f"{what} must not be empty")
        if len(value) > MAX_ITEMS:
            self.problem(path, f"{what} may have at most {MAX_ITEMS} entries, not {len(value)}")
            return []
        return value

    def string(self, path: str, value: object, what: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(path, f"{what} must be a non-empty string, not {_kind(value)}")
            return None
        return value

    def number(
        self, path: str, value: object, what: str, low: float | None = None, high: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"{what} must be a number, not {_kind(value)}")
            return None
        try:
            return float(check_number(what, value, low, high))  # range first: no overflow
        except ValueError as exc:
            self.problem(path, str(exc))
            return None

    def choice(self, path: str, value: object, what: str, choices: tuple[str, ...]) -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.problem(path, f"{what} must be one of {', '.join(choices)}, not {_show(value)}")
            return None
        return value
