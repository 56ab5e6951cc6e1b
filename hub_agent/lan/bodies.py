"""Request bodies: size- and time-bounded reading, strict JSON, object shape and number fields.

Rules of this file: every problem is an ApiError with the JSON error shape (413 too large, 408 too
slow, 400 not UTF-8 or not JSON, 422 naming the field); numbers are range-checked before any
conversion, so no body can raise anything else.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from hub_agent.lan.errors import ApiError
from hub_core.model import show_value

#: Bodies are small JSON objects; a rule with many actions is the largest, far below this.
MAX_BODY = 64 * 1024
#: Time for a body when the application does not say (BODY_RULES).
DEFAULT_BODY_TIME = 10.0


@dataclass(frozen=True, slots=True)
class BodyRules:
    """What reading a body needs from the server: its current body time (tests change limits live)."""

    timeout: Callable[[], float]


BODY_RULES = web.AppKey("lan_body_rules", BodyRules)


def _body_time(request: web.Request) -> float:
    rules = request.app.get(BODY_RULES)
    return rules.timeout() if rules is not None else DEFAULT_BODY_TIME


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (None if empty); ApiError 413/400 for oversized or malformed bodies."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"body is {request.content_length} bytes; the limit is {MAX_BODY}")
    try:
        # A body trickled in byte by byte is slowloris again: it gets the same time as a request head.
        async with asyncio.timeout(_body_time(request)):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", f"body is larger than the limit of {MAX_BODY} bytes") from None
    except TimeoutError:
        raise ApiError(408, "timeout", "the body did not arrive in time") from None
    return parse_json_body(raw)


def parse_json_body(raw: bytes) -> Any:
    """Decode a body: None if empty, else strict JSON (no NaN/Infinity); ApiError 413/400 otherwise."""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"body is {len(raw)} bytes; the limit is {MAX_BODY}")
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "bad_json", f"body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "bad_json", f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {exc}") from None


def invalid(field_name: str, message: str) -> ApiError:
    return ApiError(422, "invalid_body", message, field=field_name)


def body_object(data: Any, allowed: Iterable[str], *, required: Iterable[str] = ()) -> dict[str, Any]:
    """Check that `data` is an object with only `allowed` keys and every `required` one."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise invalid("$", f"body must be a JSON object, not {json_kind(data)}")
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise invalid(key, f"unknown field {key!r} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in data:
            raise invalid(key, f"field {key!r} is required")
    return data


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array", type(None): "null"}.get(type(value), "an object")


def number_field(data: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(key, f"{key} must be a number, not {json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(key, f"{key} must be a finite number")
    if not low <= value <= high:  # compared before any conversion: a huge int cannot overflow
        raise invalid(key, f"{key} must be between {low:g} and {high:g}, not {show_value(value)}")
    return float(value)
