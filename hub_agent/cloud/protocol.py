"""The cloud envelope protocol (CONTRACT section 7, extensions in docs/cloud.md), sans-I/O.

Rules of this file: no sockets, no asyncio, no clock. Text goes in (`decode_from_cloud`,
`decode_from_hub`, `HubSession.receive`), typed messages come out; typed messages go in
(`encode`), text comes out. Parsing is strict: one JSON object per frame, at most
MAX_MESSAGE_BYTES, no duplicate keys, no NaN/Infinity, every field type-checked. Unknown
*fields* are ignored so the cloud can add some without breaking old hubs; an unknown *type*
raises UnknownMessage so the caller can answer it. The only errors raised are the
ProtocolError subclasses below, each naming what was wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from hub_core.errors import ProtocolError
from hub_core.model import JSONObject, rfc3339

#: Largest frame either side accepts (a rule or a snapshot of a few hundred devices fits easily).
MAX_MESSAGE_BYTES = 1 << 20
#: Longest id (command id, request id, rule id) we accept.
MAX_ID_LENGTH = 200
#: Longest PEM text (a CSR or a certificate chain) we accept.
MAX_PEM_LENGTH = 64 * 1024


class MessageType(StrEnum):
    """Every envelope `type`."""

    # hub -> cloud
    HELLO = "hello"
    EVENT = "event"
    COMMAND_RESULT = "command_result"
    STATE_SNAPSHOT = "state_snapshot"
    RULES_RESULT = "rules_result"
    CERT_RENEWAL = "cert_renewal"
    CERT_STATUS = "cert_status"
    ERROR = "error"
    # cloud -> hub
    WELCOME = "welcome"
    ACK = "ack"
    COMMAND = "command"
    RULES_PUT = "rules_put"
    RULES_DELETE = "rules_delete"
    SNAPSHOT_REQUEST = "snapshot_request"
    OTA_AVAILABLE = "ota_available"
    CERTIFICATE = "certificate"


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


# --- hub -> cloud -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of every connection: who the hub is and the last command it saw."""

    hub_id: str
    version: str
    boot_id: str
    last_command_id: str | None = None
    type = MessageType.HELLO

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {
            "hub_id": self.hub_id,
            "version": self.version,
            "boot_id": self.boot_id,
            "last_command_id": self.last_command_id,
        }

    @classmethod
    def from_payload(cls, f: _Fields) -> Hello:
        """Parse from a checked field reader."""
        return cls(
            f.id("hub_id"), f.text("version"), f.text("boot_id"), f.id("last_command_id", optional=True)
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One hub event with its persisted sequence number."""

    seq: int
    event: JSONObject
    type = MessageType.EVENT

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"seq": self.seq, "event": self.event}

    @classmethod
    def from_payload(cls, f: _Fields) -> Event:
        """Parse from a checked field reader."""
        event = f.obj("event")
        if not isinstance(event.get("type"), str):
            raise f.error("event.type must be a string")
        return cls(f.seq("seq"), event)


@dataclass(frozen=True, slots=True)
class CommandResultMessage:
    """The outcome of a cloud command: `ok`, or `error` with a code and a sentence; `ms` is timing."""

    id: str
    status: str
    ms: float
    error: str | None = None
    message: str | None = None
    type = MessageType.COMMAND_RESULT

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        out: JSONObject = {"id": self.id, "status": self.status, "ms": round(self.ms, 3)}
        if self.error is not None:
            out["error"] = self.error
        if self.message is not None:
            out["message"] = self.message
        return out

    @classmethod
    def from_payload(cls, f: _Fields) -> CommandResultMessage:
        """Parse from a checked field reader."""
        status = f.choice("status", ("ok", "error"))
        error = f.text("error", optional=True)
        if status == "error" and error is None:
            raise f.error("command_result with status 'error' needs 'error'")
        return cls(f.id("id"), status, f.number("ms", minimum=0), error, f.text("message", optional=True))


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """Every device with its state (answer to snapshot_request, or after the outbox dropped events)."""

    devices: list[JSONObject]
    type = MessageType.STATE_SNAPSHOT

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"devices": self.devices}

    @classmethod
    def from_payload(cls, f: _Fields) -> StateSnapshot:
        """Parse from a checked field reader."""
        return cls(f.list_of_objects("devices"))


@dataclass(frozen=True, slots=True)
class RuleProblemJSON:
    """One rule validation problem as sent to the cloud."""

    path: str
    message: str


@dataclass(frozen=True, slots=True)
class RulesResult:
    """The answer to rules_put / rules_delete: ok, or an error code with every validation problem."""

    rule_id: str | None
    status: str
    request_id: str | None = None
    error: str | None = None
    message: str | None = None
    problems: tuple[RuleProblemJSON, ...] = ()
    type = MessageType.RULES_RESULT

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        out: JSONObject = {"request_id": self.request_id, "rule_id": self.rule_id, "status": self.status}
        if self.error is not None:
            out["error"] = self.error
        if self.message is not None:
            out["message"] = self.message
        if self.problems:
            out["problems"] = [{"path": p.path, "message": p.message} for p in self.problems]
        return out

    @classmethod
    def from_payload(cls, f: _Fields) -> RulesResult:
        """Parse from a checked field reader."""
        problems = tuple(
            RuleProblemJSON(_str(p, "problems[].path"), _str(p, "problems[].message"))
            for p in f.list_of_objects("problems", optional=True)
        )
        return cls(
            f.id("rule_id", optional=True),
            f.choice("status", ("ok", "error")),
            f.id("request_id", optional=True),
            f.text("error", optional=True),
            f.text("message", optional=True),
            problems,
        )


@dataclass(frozen=True, slots=True)
class CertRenewal:
    """The hub asks for a new client certificate: a PEM CSR for its (unchanged) key."""

    csr: str
    not_after: str | None = None
    type = MessageType.CERT_RENEWAL

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"csr": self.csr, "not_after": self.not_after}

    @classmethod
    def from_payload(cls, f: _Fields) -> CertRenewal:
        """Parse from a checked field reader."""
        return cls(f.pem("csr", "CERTIFICATE REQUEST"), f.text("not_after", optional=True))


@dataclass(frozen=True, slots=True)
class CertStatus:
    """The hub's verdict on a `certificate`: installed (with its expiry) or rejected (with why)."""

    status: str
    not_after: str | None = None
    error: str | None = None
    type = MessageType.CERT_STATUS

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"status": self.status, "not_after": self.not_after, "error": self.error}

    @classmethod
    def from_payload(cls, f: _Fields) -> CertStatus:
        """Parse from a checked field reader."""
        return cls(
            f.choice("status", ("installed", "rejected")),
            f.text("not_after", optional=True),
            f.text("error", optional=True),
        )


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """The hub could not use a frame from the cloud; `error` is a code, `message` says why."""

    error: str
    message: str
    in_reply_to: str | None = None
    type = MessageType.ERROR

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"error": self.error, "message": self.message, "in_reply_to": self.in_reply_to}

    @classmethod
    def from_payload(cls, f: _Fields) -> ErrorMessage:
        """Parse from a checked field reader."""
        return cls(f.text("error"), f.text("message"), f.text("in_reply_to", optional=True))


# --- cloud -> hub -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    """The cloud accepted the hello; it holds every event with seq <= acked_seq."""

    acked_seq: int
    type = MessageType.WELCOME

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"acked_seq": self.acked_seq}

    @classmethod
    def from_payload(cls, f: _Fields) -> Welcome:
        """Parse from a checked field reader."""
        return cls(f.seq("acked_seq", minimum=0))


@dataclass(frozen=True, slots=True)
class Ack:
    """The cloud holds every event with seq <= `seq`."""

    seq: int
    type = MessageType.ACK

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"seq": self.seq}

    @classmethod
    def from_payload(cls, f: _Fields) -> Ack:
        """Parse from a checked field reader."""
        return cls(f.seq("seq", minimum=0))


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """A device command from the phone via the cloud; `expires_at` is a POSIX time or None."""

    id: str
    device: str
    command: str
    args: JSONObject = field(default_factory=dict)
    expires_at: float | None = None
    type = MessageType.COMMAND

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`); expires_at goes out as RFC 3339."""
        out: JSONObject = {"id": self.id, "device": self.device, "command": self.command, "args": self.args}
        if self.expires_at is not None:
            out["expires_at"] = rfc3339(self.expires_at)
        return out

    @classmethod
    def from_payload(cls, f: _Fields) -> CommandMessage:
        """Parse from a checked field reader."""
        command_id = f.id("id")
        f.reply_id = command_id
        return cls(
            command_id,
            f.id("device"),
            f.text("command"),
            f.obj("args", optional=True) or {},
            f.timestamp("expires_at", optional=True),
        )


@dataclass(frozen=True, slots=True)
class RulesPut:
    """Create or replace a rule; it goes through the rules validator."""

    rule: JSONObject
    request_id: str | None = None
    type = MessageType.RULES_PUT

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"rule": self.rule, "request_id": self.request_id}

    @classmethod
    def from_payload(cls, f: _Fields) -> RulesPut:
        """Parse from a checked field reader (the rule itself is checked by the validator)."""
        request_id = f.id("request_id", optional=True)
        f.reply_id = request_id
        return cls(f.obj("rule"), request_id)


@dataclass(frozen=True, slots=True)
class RulesDelete:
    """Delete a rule by id."""

    id: str
    request_id: str | None = None
    type = MessageType.RULES_DELETE

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"id": self.id, "request_id": self.request_id}

    @classmethod
    def from_payload(cls, f: _Fields) -> RulesDelete:
        """Parse from a checked field reader."""
        request_id = f.id("request_id", optional=True)
        f.reply_id = request_id
        return cls(f.id("id"), request_id)


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """Ask for a state_snapshot."""

    type = MessageType.SNAPSHOT_REQUEST

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {}

    @classmethod
    def from_payload(cls, f: _Fields) -> SnapshotRequest:
        """Parse from a checked field reader."""
        return cls()


@dataclass(frozen=True, slots=True)
class OtaAvailable:
    """An update offer; its body belongs to the OTA part, so it is passed on as is."""

    offer: JSONObject
    type = MessageType.OTA_AVAILABLE

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return dict(self.offer)

    @classmethod
    def from_payload(cls, f: _Fields) -> OtaAvailable:
        """Parse from a checked field reader."""
        return cls({k: v for k, v in f.data.items() if k != "type"})


@dataclass(frozen=True, slots=True)
class Certificate:
    """The cloud's answer to cert_renewal: the new client certificate (PEM, leaf first)."""

    cert: str
    type = MessageType.CERTIFICATE

    def to_payload(self) -> JSONObject:
        """The JSON object (without `type`)."""
        return {"cert": self.cert}

    @classmethod
    def from_payload(cls, f: _Fields) -> Certificate:
        """Parse from a checked field reader."""
        return cls(f.pem("cert", "CERTIFICATE"))


HubMessage: TypeAlias = (
    Hello
    | Event
    | CommandResultMessage
    | StateSnapshot
    | RulesResult
    | CertRenewal
    | CertStatus
    | ErrorMessage
)
CloudMessage: TypeAlias = (
    Welcome | Ack | CommandMessage | RulesPut | RulesDelete | SnapshotRequest | OtaAvailable | Certificate
)
Message: TypeAlias = HubMessage | CloudMessage

_FROM_HUB: dict[str, Callable[[_Fields], HubMessage]] = {
    cls.type.value: cls.from_payload
    for cls in (
        Hello,
        Event,
        CommandResultMessage,
        StateSnapshot,
        RulesResult,
        CertRenewal,
        CertStatus,
        ErrorMessage,
    )
}
_FROM_CLOUD: dict[str, Callable[[_Fields], CloudMessage]] = {
    cls.type.value: cls.from_payload
    for cls in (
        Welcome,
        Ack,
        CommandMessage,
        RulesPut,
        RulesDelete,
        SnapshotRequest,
        OtaAvailable,
        Certificate,
    )
}


# --- encoding and decoding --------------------------------------------------------------------


def encode(message: Message) -> str:
    """One frame's text, `type` first, compact."""
    return json.dumps(
        {"type": message.type.value, **message.to_payload()}, separators=(",", ":"), allow_nan=False
    )


def encode_event(seq: int, event_json: str) -> str:
    """An `event` frame from an already encoded event object (the outbox stores them encoded)."""
    return f'{{"type":"event","seq":{seq},"event":{event_json}}}'


def decode_from_cloud(text: str | bytes) -> CloudMessage:
    """Parse one frame the cloud sent; raise a ProtocolError subclass naming the problem."""
    kind, fields = _envelope(text)
    parse = _FROM_CLOUD.get(kind)
    if parse is None:
        raise UnknownMessage(kind)
    return parse(fields)


def decode_from_hub(text: str | bytes) -> HubMessage:
    """Parse one frame a hub sent (used by the dev relay and tests); raise a ProtocolError subclass."""
    kind, fields = _envelope(text)
    parse = _FROM_HUB.get(kind)
    if parse is None:
        raise UnknownMessage(kind)
    return parse(fields)


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


def _envelope(text: str | bytes) -> tuple[str, _Fields]:
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
        raise MalformedMessage(f"a frame must be a JSON object, not {_kind(data)}")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise MalformedMessage("missing 'type' (a string)" if kind is None else "'type' must be a string")
    return kind, _Fields(kind, data)


class _Fields:
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
            raise self.error(f"{name!r} must be a string, not {_kind(value)}")
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
            raise self.error(f"{name!r} must be a whole number, not {_kind(value)}")
        if not minimum <= value < 2**63:
            raise self.error(f"{name!r} must be between {minimum} and 2**63-1, not {value}")
        return value

    def number(self, name: str, *, minimum: float) -> float:
        """A finite number >= minimum."""
        value = self._get(name, False)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(f"{name!r} must be a number, not {_kind(value)}")
        if value < minimum:
            raise self.error(f"{name!r} must be at least {minimum:g}")
        return float(value)

    def obj(self, name: str, *, optional: bool = False) -> Any:
        """A JSON object field."""
        value = self._get(name, optional)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(f"{name!r} must be an object, not {_kind(value)}")
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
            raise self.error(f"{name!r} must be an RFC 3339 time, not {_kind(value)}")
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


def _str(data: Mapping[str, Any], name: str) -> str:
    key = name.rsplit(".", 1)[-1]
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedMessage(f"{name} must be a string")
    return value


def _kind(value: object) -> str:
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


# --- the hub's side of one connection -----------------------------------------------------------


class SessionState(StrEnum):
    """Where one connection is, from the hub's point of view."""

    AWAITING_WELCOME = "awaiting_welcome"
    OPEN = "open"


class HubSession:
    """The hub side of one connection: sends hello first, accepts nothing but welcome until then."""

    def __init__(self, hello: Hello) -> None:
        self.hello = hello
        self.state = SessionState.AWAITING_WELCOME
        self.acked_seq = 0

    def start(self) -> str:
        """The first frame to send."""
        return encode(self.hello)

    def receive(self, text: str | bytes) -> CloudMessage:
        """Parse one frame from the cloud in the session's context; raise ProtocolError on misuse."""
        message = decode_from_cloud(text)
        if self.state is SessionState.AWAITING_WELCOME:
            if not isinstance(message, Welcome):
                raise OutOfOrder(f"expected welcome first, got {message.type.value}")
            self.state = SessionState.OPEN
            self.acked_seq = message.acked_seq
        elif isinstance(message, Welcome):
            raise OutOfOrder("a second welcome on the same connection")
        elif isinstance(message, Ack):
            # Acks never go backwards: a stale or reordered ack acknowledges nothing new.
            self.acked_seq = max(self.acked_seq, message.seq)
        return message
