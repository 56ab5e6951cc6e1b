"""The sans-I/O envelope: round trips, strict parsing with clear errors, fuzzing, the hub session."""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_agent.cloud.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    Certificate,
    CertRenewal,
    CertStatus,
    CommandMessage,
    CommandResultMessage,
    ErrorMessage,
    Event,
    Hello,
    MalformedMessage,
    MessageTooLarge,
    OtaAvailable,
    OutOfOrder,
    RuleProblemJSON,
    RulesDelete,
    RulesPut,
    RulesResult,
    SnapshotRequest,
    StateSnapshot,
    UnknownMessage,
    Welcome,
    decode_from_cloud,
    decode_from_hub,
    encode,
    encode_event,
    reply_id_of,
)
from hub_agent.cloud.session import HubSession, SessionState
from hub_core.backoff import Backoff
from hub_core.errors import ProtocolError

PEM_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMII=\n-----END CERTIFICATE REQUEST-----\n"
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n"

HUB_MESSAGES = [
    Hello("hub-1", "0.1.0", "boot-1", None),
    Hello("hub-1", "0.1.0", "boot-1", "cmd-9"),
    Event(7, {"type": "state", "device": "zwave-2", "attribute": "switch", "value": "on", "ts": "x"}),
    CommandResultMessage("cmd-1", "ok", 1.5),
    CommandResultMessage("cmd-2", "error", 0.25, "unknown_device", "no device 'zwave-99'"),
    StateSnapshot([{"id": "zwave-2", "state": {"switch": "on"}}]),
    RulesResult("r1", "ok", "req-1"),
    RulesResult("r1", "error", "req-2", "invalid_rule", "bad", (RuleProblemJSON("$.actions", "empty"),)),
    CertRenewal(PEM_CSR, "2027-01-01T00:00:00Z"),
    CertStatus("installed", "2027-01-01T00:00:00Z"),
    CertStatus("rejected", None, "wrong key"),
    ErrorMessage("malformed", "command: missing 'id'", None),
]
CLOUD_MESSAGES = [
    Welcome(0),
    Welcome(123),
    Ack(5),
    CommandMessage("cmd-1", "zwave-2", "on"),
    CommandMessage("cmd-2", "zwave-3", "set_level", {"level": 40}, 1_900_000_000.5),
    RulesPut({"id": "r1", "triggers": []}, "req-1"),
    RulesDelete("r1", None),
    SnapshotRequest(),
    OtaAvailable({"version": "1.2.3", "url": "https://updates.example/1.2.3"}),
    Certificate(PEM_CERT),
]


@pytest.mark.parametrize("message", HUB_MESSAGES, ids=lambda m: type(m).__name__)
def test_hub_messages_round_trip(message: object) -> None:
    text = encode(message)  # type: ignore[arg-type]
    assert text.startswith('{"type":"')  # CONTRACT: "type" first
    assert decode_from_hub(text) == message


@pytest.mark.parametrize("message", CLOUD_MESSAGES, ids=lambda m: type(m).__name__)
def test_cloud_messages_round_trip(message: object) -> None:
    text = encode(message)  # type: ignore[arg-type]
    assert text.startswith('{"type":"')
    decoded = decode_from_cloud(text)
    if isinstance(message, CommandMessage) and message.expires_at is not None:
        assert isinstance(decoded, CommandMessage)
        assert decoded.expires_at == pytest.approx(message.expires_at, abs=0.001)
    else:
        assert decoded == message


def test_encode_event_is_the_same_frame_as_encode() -> None:
    event = {"type": "button", "device": "zwave-5", "button": 1, "action": "held", "ts": "t"}
    fast = encode_event(42, json.dumps(event, separators=(",", ":")))
    assert json.loads(fast) == json.loads(encode(Event(42, event)))
    assert decode_from_hub(fast) == Event(42, event)


@pytest.mark.parametrize(
    ("frame", "error", "words"),
    [
        ("", MalformedMessage, "not valid JSON"),
        ("{", MalformedMessage, "not valid JSON"),
        ("[1,2]", MalformedMessage, "must be a JSON object, not an array"),
        ('"ack"', MalformedMessage, "not a string"),
        ("{}", MalformedMessage, "missing 'type'"),
        ('{"type": 5}', MalformedMessage, "'type' must be a string"),
        ('{"type": "ack", "seq": 1, "seq": 2}', MalformedMessage, "duplicate key 'seq'"),
        ('{"type": "ack", "seq": NaN}', MalformedMessage, "NaN is not valid JSON"),
        ('{"type": "ack"}', MalformedMessage, "ack: missing 'seq'"),
        ('{"type": "ack", "seq": "5"}', MalformedMessage, "'seq' must be a whole number, not a string"),
        ('{"type": "ack", "seq": true}', MalformedMessage, "'seq' must be a whole number, not a boolean"),
        ('{"type": "ack", "seq": -1}', MalformedMessage, "'seq' must be between 0"),
        ('{"type": "ack", "seq": 1.5}', MalformedMessage, "whole number, not a number"),
        ('{"type": "ack", "seq": 99999999999999999999}', MalformedMessage, "2**63-1"),
        ('{"type": "command", "device": "zwave-2", "command": "on"}', MalformedMessage, "missing 'id'"),
        (
            '{"type": "command", "id": "", "device": "d", "command": "on"}',
            MalformedMessage,
            "'id' must not be empty",
        ),
        (
            '{"type": "command", "id": "c", "device": "d", "command": "on", "args": []}',
            MalformedMessage,
            "'args' must be an object",
        ),
        (
            '{"type": "command", "id": "c", "device": "d", "command": "on", "expires_at": "soon"}',
            MalformedMessage,
            "not an RFC 3339 time",
        ),
        (
            '{"type": "command", "id": "c", "device": "d", "command": "on", '
            '"expires_at": "2026-01-01T00:00:00"}',
            MalformedMessage,
            "needs a UTC offset",
        ),
        ('{"type": "rules_put", "rule": "x"}', MalformedMessage, "'rule' must be an object"),
        ('{"type": "certificate", "cert": "hello"}', MalformedMessage, "PEM text with a CERTIFICATE block"),
        ('{"type": "welcome"}', MalformedMessage, "welcome: missing 'acked_seq'"),
        ('{"type": "reboot"}', UnknownMessage, "unknown message type 'reboot'"),
        ('{"type": "hello", "hub_id": "h", "version": "1", "boot_id": "b"}', UnknownMessage, "'hello'"),
        ("[" * 100_000 + "]" * 100_000, MalformedMessage, "nested too deeply"),
    ],
)
def test_bad_cloud_frames_name_the_problem(frame: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as caught:
        decode_from_cloud(frame)
    assert words in str(caught.value)


def test_errors_carry_the_id_they_are_about() -> None:
    with pytest.raises(MalformedMessage) as caught:
        decode_from_cloud('{"type": "command", "id": "cmd-7", "device": "d", "command": 3}')
    assert caught.value.id == "cmd-7"
    assert caught.value.type == "command"
    assert reply_id_of('{"type": "command", "id": "cmd-8", "device": 1}') == "cmd-8"
    assert reply_id_of("not json") is None


def test_oversized_frames_are_refused_before_parsing() -> None:
    frame = '{"type": "ota_available", "x": "' + "a" * MAX_MESSAGE_BYTES + '"}'
    with pytest.raises(MessageTooLarge) as caught:
        decode_from_cloud(frame)
    assert caught.value.size == len(frame)
    assert f"{MAX_MESSAGE_BYTES}-byte limit" in str(caught.value)


def test_bytes_frames_must_be_utf8() -> None:
    assert decode_from_cloud(b'{"type":"ack","seq":3}') == Ack(3)
    with pytest.raises(MalformedMessage, match="not valid UTF-8 at byte 23"):
        decode_from_cloud(b'{"type":"ack","seq":3,"\xff":1}')


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert decode_from_cloud('{"type":"ack","seq":3,"batch":"b-1"}') == Ack(3)


def test_expires_at_accepts_rfc3339_and_posix_seconds() -> None:
    base = '{"type":"command","id":"c","device":"d","command":"on","expires_at":%s}'
    a = decode_from_cloud(base % '"2026-11-24T19:00:00Z"')
    b = decode_from_cloud(base % '"2026-11-24T20:00:00+01:00"')
    c = decode_from_cloud(base % "1795546800")
    assert isinstance(a, CommandMessage) and isinstance(b, CommandMessage) and isinstance(c, CommandMessage)
    assert a.expires_at == b.expires_at == c.expires_at == 1795546800.0


def test_session_needs_welcome_first_and_acks_never_go_back() -> None:
    session = HubSession(Hello("hub-1", "0.1.0", "boot", None))
    assert json.loads(session.start())["type"] == "hello"
    with pytest.raises(OutOfOrder, match="expected welcome first, got ack"):
        session.receive('{"type":"ack","seq":1}')
    assert session.receive('{"type":"welcome","acked_seq":10}') == Welcome(10)
    assert session.state is SessionState.OPEN
    session.receive('{"type":"ack","seq":12}')
    session.receive('{"type":"ack","seq":11}')  # stale: acknowledges nothing new
    assert session.acked_seq == 12
    with pytest.raises(OutOfOrder, match="second welcome"):
        session.receive('{"type":"welcome","acked_seq":0}')


# --- fuzzing: a parser may raise only ProtocolError ------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
TYPES = [
    "hello", "event", "command_result", "state_snapshot", "rules_result", "cert_renewal", "cert_status",
    "error", "welcome", "ack", "command", "rules_put", "rules_delete", "snapshot_request", "ota_available",
    "certificate", "nope",
]  # fmt: skip
FIELDS = [
    "id", "seq", "acked_seq", "device", "command", "args", "expires_at", "rule", "request_id", "status",
    "ms", "error", "devices", "event", "csr", "cert", "hub_id", "version", "boot_id", "problems", "rule_id",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_arbitrary_bytes(frame: bytes) -> None:
    for decode in (decode_from_cloud, decode_from_hub):
        with contextlib.suppress(ProtocolError):
            decode(frame)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(TYPES), st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))
def test_fuzz_structured_envelopes(kind: str, fields: dict[str, object]) -> None:
    frame = json.dumps({"type": kind, **fields})
    for decode in (decode_from_cloud, decode_from_hub):
        try:
            message = decode(frame)
        except ProtocolError:
            continue
        # Whatever parses must encode again and parse to the same message.
        again = decode(encode(message))
        if isinstance(message, CommandMessage) and message.expires_at is not None:
            assert isinstance(again, CommandMessage)
            assert again.expires_at == pytest.approx(message.expires_at, abs=0.001)
        else:
            assert again == message


# --- back-off ---------------------------------------------------------------------------------


def test_backoff_is_full_jitter_doubling_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 60.0, random.Random(7))
    ceilings = []
    for _ in range(10):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    backoff.reset()
    assert backoff.ceiling() == 1.0


def test_backoff_jitter_spreads_over_the_whole_range() -> None:
    backoff = Backoff(1.0, 60.0, random.Random(1))
    delays = []
    for _ in range(2000):
        backoff.attempt = 10
        delays.append(backoff.next_delay())
    assert min(delays) < 3 and max(delays) > 57  # full jitter: from ~0 up to the cap
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(5.0, 1.0)
