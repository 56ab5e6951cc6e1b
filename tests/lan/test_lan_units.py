"""The pure parts of the LAN API: tokens, pairing window, limiter, control requests, body parsing, TLS.

Every parser is fuzzed: it may only return a value or raise its documented error.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_agent.lan import control, tls
from hub_agent.lan.bodies import body_object, parse_json_body
from hub_agent.lan.errors import ApiError
from hub_agent.lan.limits import ConnectionGate, Limits
from hub_agent.lan.mdns import Advertisement
from hub_agent.lan.pairing import FailureLimiter, PairingWindow
from hub_agent.lan.tokens import (
    TokenCache,
    clean_name,
    create_token,
    hash_token,
    list_tokens,
    load_hashes,
    parse_token,
    revoke_token,
    touch_token,
)
from hub_agent.store.db import connect
from hub_core.errors import ProtocolError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


# --- tokens ---------------------------------------------------------------------------------


def _db(tmp_path: Path) -> sqlite3.Connection:
    return connect(tmp_path / "hub.sqlite3")


def test_tokens_are_stored_hashed_and_check_in_the_cache(tmp_path: Path) -> None:
    conn = _db(tmp_path)
    try:
        new = create_token("phone", now=100.0)(conn)
        other = create_token("tablet", now=200.0)(conn)
        assert parse_token(new.token) == new.info.id
        (stored,) = conn.execute("SELECT hash FROM lan_tokens WHERE id = ?", (new.info.id,)).fetchone()
        assert stored == hash_token(new.token) and new.token not in stored
        assert [t.name for t in list_tokens(conn)] == ["phone", "tablet"]

        cache = TokenCache()
        cache.replace(load_hashes(conn))
        assert cache.check(new.token) == new.info.id
        assert cache.check(other.token) == other.info.id
        assert cache.check(new.token[:-1] + ("A" if new.token[-1] != "A" else "B")) is None
        assert cache.check(other.info.id + "." + new.token.split(".")[1]) is None  # id and secret must match
        assert cache.check("") is None

        assert revoke_token(new.info.id)(conn) is True
        assert revoke_token(new.info.id)(conn) is False
        cache.replace(load_hashes(conn))
        assert cache.check(new.token) is None
        assert cache.check(other.token) == other.info.id

        assert cache.used(other.info.id, 1000.0) is True  # first use: write it
        assert cache.used(other.info.id, 1010.0) is False  # then at most once a minute
        assert cache.used(other.info.id, 1061.0) is True
        touch_token(other.info.id, 1234.0)(conn)
        assert list_tokens(conn)[0].last_used == 1234.0
    finally:
        conn.close()


@given(st.text(max_size=200))
@settings(deadline=None)
def test_token_check_never_raises(text: str) -> None:
    cache = TokenCache()
    assert cache.check(text) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 65, "at most 64"),
        ("a\nb", "printable"),
        (3, "must be a string"),
    ],
)
def test_token_names_are_checked(name: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        clean_name(name)
    assert clean_name("  Anna's phone ") == "Anna's phone"


# --- pairing window and limiter ---------------------------------------------------------------


def test_pairing_window_opens_extends_and_closes() -> None:
    window = PairingWindow()
    assert not window.is_open(0)
    window.open(60, now=10)
    assert window.is_open(69.9) and not window.is_open(70)
    assert window.remaining(40) == 30
    window.open(60, now=50)  # pressing again extends
    assert window.is_open(100)
    window.open(0, now=60)
    assert not window.is_open(60)
    with pytest.raises(ValueError, match="between 0 and 600"):
        window.open(601, now=0)


def test_limiter_counts_failures_per_client_in_a_sliding_period() -> None:
    limiter = FailureLimiter(max_failures=3, period=60, max_clients=2)
    for t in (0, 10, 20):
        assert limiter.retry_after("a", t) == 0
        limiter.failed("a", t)
    assert limiter.retry_after("a", 30) == 30  # the oldest failure (t=0) expires at 60
    assert limiter.retry_after("b", 30) == 0  # per client
    assert limiter.retry_after("a", 60) == 0
    limiter.failed("b", 61)
    limiter.failed("c", 62)  # memory is bounded: the least recently failing client is forgotten
    assert len(limiter) == 2


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.floats(0, 1000)), max_size=100))
@settings(deadline=None)
def test_limiter_never_blocks_a_client_with_few_recent_failures(events: list[tuple[str, float]]) -> None:
    limiter = FailureLimiter(max_failures=5, period=60, max_clients=3)
    now = 0.0
    for client, step in events:
        now += step
        limiter.failed(client, now)
        assert len(limiter) <= 3
        assert 0 <= limiter.retry_after(client, now) <= 60
    assert limiter.retry_after("z", now) == 0


# --- control socket requests ------------------------------------------------------------------


def test_control_requests_round_trip() -> None:
    for request in (control.PairRequest(60.0), control.PairRequest(0.0), control.TokensChanged()):
        assert control.parse_request(control.encode(request.to_payload())) == request
    assert control.parse_request(b'{"op":"pair"}') == control.PairRequest(60.0)


@given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
@settings(max_examples=300, deadline=None)  # a busy CI box must not turn into a failure
def test_control_parser_raises_only_protocol_errors(line: bytes) -> None:
    try:
        request = control.parse_request(line)
    except ProtocolError as exc:
        assert str(exc)
    else:
        assert isinstance(request, control.PairRequest | control.TokensChanged)


# --- request bodies -------------------------------------------------------------------------


@given(st.binary(max_size=400) | JSON.map(lambda v: json.dumps(v).encode()))
@settings(max_examples=300, deadline=None)  # a busy CI box must not turn into a failure
def test_body_parser_raises_only_api_errors(raw: bytes) -> None:
    try:
        data = parse_json_body(raw)
        body_object(data, ["command", "args"], required=["command"])
    except ApiError as exc:
        assert exc.status in (400, 413, 422)
        assert exc.code and exc.message
        if exc.status == 422:
            assert isinstance(exc.extra["field"], str)


def test_body_parser_limits() -> None:
    with pytest.raises(ApiError, match="limit") as info:
        parse_json_body(b" " * (64 * 1024 + 1))
    assert info.value.status == 413
    assert parse_json_body(b"  \n") is None
    with pytest.raises(ApiError, match="Infinity is not valid JSON"):
        parse_json_body(b'{"a": -Infinity}')


# --- TLS certificate ----------------------------------------------------------------------------


def test_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    assert tls.fingerprint(tmp_path) is None
    first = tls.ensure_certificate(tmp_path, "hub-0001")
    assert stat.S_IMODE(os.stat(first.key_path).st_mode) == 0o600
    assert tls.fingerprint(tmp_path) == first.fingerprint
    again = tls.ensure_certificate(tmp_path, "hub-0001")
    assert again.fingerprint == first.fingerprint  # pinned by phones: never changes by itself
    # The fingerprint is what openssl prints for the same file.
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(first.cert_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().split("=", 1)[1] == first.fingerprint
    cert = x509.load_pem_x509_certificate(first.cert_path.read_bytes())
    assert cert.signature_hash_algorithm is not None
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert cert.subject.rfc4514_string() == "CN=hub-0001"


def test_a_loosened_key_mode_is_tightened_and_an_expired_cert_replaced(tmp_path: Path) -> None:
    first = tls.ensure_certificate(tmp_path, "hub-0001")
    os.chmod(first.key_path, 0o644)
    assert stat.S_IMODE(os.stat(tls.ensure_certificate(tmp_path, "hub-0001").key_path).st_mode) == 0o600
    # Replace the certificate with an expired one for the same key.
    from cryptography.hazmat.primitives import hashes, serialization

    key = serialization.load_pem_private_key(first.key_path.read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "hub-0001")])
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(past)
        .not_valid_after(past + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    first.cert_path.write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    renewed = tls.ensure_certificate(tmp_path, "hub-0001")
    assert renewed.fingerprint != first.fingerprint
    assert tls.fingerprint(tmp_path) == renewed.fingerprint
    first.cert_path.write_bytes(b"garbage")
    assert tls.fingerprint(tmp_path) is None


# --- mDNS record ----------------------------------------------------------------------------


def test_advertisement_txt_and_names() -> None:
    ad = Advertisement("Hub 0001/ä", "0.1.0", 8443, "/api/v1", "AB:CD", True)
    assert ad.txt() == {
        "id": "Hub 0001/ä",
        "version": "0.1.0",
        "api": "/api/v1",
        "tls": "1",
        "fingerprint": "AB:CD",
    }
    assert ad.instance_name() == "Hub 0001/ä._hub-agent._tcp.local."
    assert ad.host_name() == "hub-0001.local."
    assert "fingerprint" not in Advertisement("h", "1", 80, "/api/v1", None, False).txt()
    long = Advertisement("h" * 100, "1", 80, "/api/v1", None, False)
    assert len(long.instance_name().split(".")[0]) == 63


# --- the connection gate's bookkeeping ------------------------------------------------------------


def test_gate_admits_under_the_total_and_per_address_limits_and_releases() -> None:
    refused: list[str] = []
    gate = ConnectionGate(
        Limits(max_connections=3, max_connections_per_client=2),
        lambda: asyncio.Protocol(),
        None,
        refused=refused.append,
    )
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") is None
    assert gate.admit("10.0.0.1") == "client_connections"  # one address cannot take them all
    assert gate.admit("10.0.0.2") is None
    assert gate.admit("10.0.0.3") == "connections"  # the fd budget
    assert (gate.total, gate.per_client) == (3, {"10.0.0.1": 2, "10.0.0.2": 1})
    gate.release("10.0.0.1")
    gate.release("10.0.0.2")
    assert gate.admit("10.0.0.3") is None
    gate.release("10.0.0.3")
    gate.release("10.0.0.1")
    assert (gate.total, gate.per_client) == (0, {})
    gate.refuse("connections", "10.0.0.9")
    assert refused == ["connections"]
