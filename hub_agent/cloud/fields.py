"""Strict reading of one cloud envelope: size, UTF-8, JSON without duplicates or NaN, typed fields.

Rules of this file: no sockets, no asyncio, no clock. Every failure is one of the ProtocolError
subclasses below, naming the field and the problem; nothing else may escape (fuzzed in the tests).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub_core.errors import ProtocolError
from hub_core.model import JSONObject

#: Largest frame either side accepts (a rule or a snapshot of a few hundred devices fits easily).
MAX_MESSAGE_BYTES = 1 << 20
#: Longest id (command id, request id, rule id) we accept.
MAX_ID_LENGTH = 200
#: Longest PEM text (a CSR or a certificate chain) we accept.
MAX_PEM_LENGTH = 64 * 1024


class MalformedMessage(ProtocolError):
    """The frame is not a valid envelope (bad JSON, wrong field type, missing field)."""

    code = "malformed"

    def __init__(self, message: str, *, type: str | None = None, id: str | None = None) -> None:
        self.type = type
        self.id = id
        super().__init__(message)


class MessageTooLarge(ProtocolError):
    """The frame is larger than MAX_MESSAGE_BYTES."""

    code = "too_large"

    def __init__(self, size: int, limit: int = MAX_MESSAGE_BYTES) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"message of {size} bytes exceeds the {limit}-byte limit")


class UnknownMessage(ProtocolError):
    """The envelope's `type` is not one this side understands."""

    code = "unknown_type"

    def __init__(self, type: str) -> None:
        self.type = type
        super().__init__(f"unknown message type {type!r}")


class OutOfOrder(ProtocolError):
    """A valid message arrived when the session does not allow it (e.g. before `welcome`)."""

    code = "out_of_order"


class SeqOutOfRange(ProtocolError):
    """The cloud acknowledged a seq this hub never sent: its view of the outbox cannot be trusted."""

    code = "bad_seq"


def reply_id_of(text: str | bytes) -> str | None:
    """Best effort: the `id`/`request_id` of a frame we could not parse, so an error can name it."""
    try:
        data = json.loads(text) if len(text) <= MAX_MESSAGE_BYTES else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("id", "request_id"):
        value = data.get(key)
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def envelope(text: str | bytes) -> tuple[str, Fields]:
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(size)
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"not valid UTF-8 at byte {exc.start}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedMessage("JSON nested too deeply") from None
    except ValueError as exc:
        raise MalformedMessage(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"a frame must be a JSON object, not {kind_name(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedMessage("missing 'type' (a string)" if kind is None else "'type' must be a string")
    return kind, Fields(kind, data)


class Fields:
    """Typed access to one envelope's fields; every failure is a MalformedMessage naming the field."""

    __slots__ = ("data", "kind", "reply_id")

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data
        self.reply_id: str | None = None

    def error(self, message: str) -> MalformedMessage:
        """An error about this message."""
        return MalformedMessage(f"{self.kind}: {message}", type=self.kind, id=self.reply_id)

    def _get(self, name: str, optional: bool) -> Any:
        value = self.data.get(name)
        if value is None and not optional:
            raise self.error(f"missing {name!r}")
        return value

    def text(self, name: str, *, optional: bool = False, max_length: int = 4096) -> Any:
        """A string field."""
        value = self._get(name, optional)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{name!r} must be a string, not {kind_name(value)}")
        if len(value) > max_length:
            raise self.error(f"{name!r} is longer than {max_length} characters")
        return value

    def id(self, name: str, *, optional: bool = False) -> Any:
        """A non-empty identifier of at most MAX_ID_LENGTH characters."""
        value = self.text(name, optional=optional, max_length=MAX_ID_LENGTH)
        if value is not None and not value.strip():
            raise self.error(f"{name!r} must not be empty")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """A string that is one of `choices`."""
        value: str = self.text(name)
        if value not in choices:
            raise self.error(f"{name!r} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def seq(self, name: str, *, minimum: int = 1) -> int:
        """A sequence number: a whole number >= minimum that fits in 63 bits."""
        value = self._get(name, False)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{name!r} must be a whole number, not {kind_name(value)}")
        if not minimum <= value < 2**63:
            raise self.error(f"{name!r} must be between {minimum} and 2**63-1, not {value}")
        return value

    def number(self, name: str, *, minimum: float) -> float:
        """A finite number >= minimum."""
        value = self._get(name, False)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(f"{name!r} must be a number, not {kind_name(value)}")
        if value < minimum:
            raise self.error(f"{name!r} must be at least {minimum:g}")
        return float(value)

    def obj(self, name: str, *, optional: bool = False) -> Any:
        """A JSON object field."""
        value = self._get(name, optional)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(f"{name!r} must be an object, not {kind_name(value)}")
        return value

    def list_of_objects(self, name: str, *, optional: bool = False) -> list[JSONObject]:
        """A JSON array of objects."""
        value = self._get(name, optional)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(f"{name!r} must be an array of objects")
        return value

    def timestamp(self, name: str, *, optional: bool = False) -> float | None:
        """An RFC 3339 date-time with offset (or a POSIX time in seconds) as a POSIX time."""
        value = self._get(name, optional)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.error(f"{name!r} must be an RFC 3339 time, not a boolean")
        if isinstance(value, int | float):
            if not math.isfinite(value) or not 0 <= value < 1e11:
                raise self.error(f"{name!r} is not a plausible POSIX time: {value!r}")
            return float(value)
        if not isinstance(value, str) or len(value) > 64:
            raise self.error(f"{name!r} must be an RFC 3339 time, not {kind_name(value)}")
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise self.error(f"{name!r} is not an RFC 3339 time: {value!r}") from None
        if parsed.tzinfo is None:
            raise self.error(f"{name!r} needs a UTC offset (e.g. 'Z'): {value!r}")
        return parsed.timestamp()

    def pem(self, name: str, label: str) -> str:
        """PEM text whose first block has `label` (e.g. CERTIFICATE)."""
        value: str = self.text(name, max_length=MAX_PEM_LENGTH)
        if f"-----BEGIN {label}-----" not in value:
            raise self.error(f"{name!r} must be PEM text with a {label} block")
        return value


def string_field(data: Mapping[str, Any], name: str) -> str:
    key = name.rsplit(".", 1)[-1]
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedMessage(f"{name} must be a string")
    return value


def kind_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
