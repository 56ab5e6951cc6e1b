"""The cloud envelope messages (CONTRACT section 7, extensions in docs/cloud.md), sans-I/O.

Rules of this file: no sockets, no asyncio, no clock. Text goes in (`decode_from_cloud`,
`decode_from_hub`), typed messages come out; typed messages go in (`encode`), text comes out.
Parsing is strict (see `fields.py`): one JSON object per frame, at most MAX_MESSAGE_BYTES, no
duplicate keys, no NaN/Infinity, every field type-checked. Unknown *fields* are ignored so the
cloud can add some without breaking old hubs; an unknown *type* raises UnknownMessage so the
caller can answer it. The only errors raised are the ProtocolError subclasses of `fields.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from hub_agent.cloud.fields import (
    MAX_ID_LENGTH,
    MAX_MESSAGE_BYTES,
    MAX_PEM_LENGTH,
    Fields,
    MalformedMessage,
    MessageTooLarge,
    OutOfOrder,
    SeqOutOfRange,
    UnknownMessage,
    envelope,
    reply_id_of,
    string_field,
)
from hub_core.model import JSONObject, rfc3339

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_MESSAGE_BYTES",
    "MAX_PEM_LENGTH",
    "MalformedMessage",
    "MessageTooLarge",
    "OutOfOrder",
    "SeqOutOfRange",
    "UnknownMessage",
    "reply_id_of",
]


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
    def from_payload(cls, f: Fields) -> Hello:
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
    def from_payload(cls, f: Fields) -> Event:
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
    def from_payload(cls, f: Fields) -> CommandResultMessage:
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
    def from_payload(cls, f: Fields) -> StateSnapshot:
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
    def from_payload(cls, f: Fields) -> RulesResult:
        """Parse from a checked field reader."""
        problems = tuple(
            RuleProblemJSON(string_field(p, "problems[].path"), string_field(p, "problems[].message"))
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
    def from_payload(cls, f: Fields) -> CertRenewal:
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
    def from_payload(cls, f: Fields) -> CertStatus:
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
    def from_payload(cls, f: Fields) -> ErrorMessage:
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
    def from_payload(cls, f: Fields) -> Welcome:
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
    def from_payload(cls, f: Fields) -> Ack:
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
    def from_payload(cls, f: Fields) -> CommandMessage:
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
    def from_payload(cls, f: Fields) -> RulesPut:
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
    def from_payload(cls, f: Fields) -> RulesDelete:
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
    def from_payload(cls, f: Fields) -> SnapshotRequest:
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
    def from_payload(cls, f: Fields) -> OtaAvailable:
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
    def from_payload(cls, f: Fields) -> Certificate:
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

_FROM_HUB: dict[str, Callable[[Fields], HubMessage]] = {
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
_FROM_CLOUD: dict[str, Callable[[Fields], CloudMessage]] = {
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
    kind, fields = envelope(text)
    parse = _FROM_CLOUD.get(kind)
    if parse is None:
        raise UnknownMessage(kind)
    return parse(fields)


def decode_from_hub(text: str | bytes) -> HubMessage:
    """Parse one frame a hub sent (used by the dev relay and tests); raise a ProtocolError subclass."""
    kind, fields = envelope(text)
    parse = _FROM_HUB.get(kind)
    if parse is None:
        raise UnknownMessage(kind)
    return parse(fields)
