"""Fuzz the S2 and S0 decoders: they face the air, so only the documented SecurityError subclasses escape."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_core.errors import ConfigError
from radios.zwave.security import kex
from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.errors import SecurityError
from radios.zwave.security.keystore import parse
from radios.zwave.security.primitives import x25519_keypair
from radios.zwave.security.s0 import S0Session
from radios.zwave.security.s2_cc import S2Command, decode_s2
from radios.zwave.security.s2_encap import S2Session, parse_extensions

KEY = {
    SecurityClass.S2_UNAUTHENTICATED: bytes(range(16)),
    SecurityClass.S2_ACCESS_CONTROL: bytes(range(1, 17)),
}
_commands = st.sampled_from([int(c) for c in S2Command] + [0x00, 0x0F, 0xFF])
s2_frames = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda c, body: bytes((0x9F, c)) + body, _commands, st.binary(max_size=60)),
    # Message Encapsulation with the extension flag and a plausible SPAN extension header.
    st.builds(
        lambda seq, flags, ext, rest: bytes((0x9F, 0x03, seq, flags)) + ext + rest,
        st.integers(0, 255),
        st.integers(0, 3),
        st.sampled_from([b"", b"\x12\x41", b"\x12\xc1", b"\x02\x7f", b"\x00\x41", b"\xff\x01"]),
        st.binary(max_size=50),
    ),
)


@given(s2_frames)
def test_decode_s2_raises_only_malformed(data: bytes) -> None:
    try:
        frame = decode_s2(data)
    except SecurityError:
        return
    assert decode_s2(frame.encode()) == frame or data[1] in (0x05, 0x06)  # KEX masks drop unknown bits


def _hub_in(state: str) -> S2Session:
    hub = S2Session(KEY, home_id=1, own_node_id=1)
    hub.set_granted(2, set(KEY))
    if state == "local_ei":
        hub.nonce_report(2)
    elif state == "span":
        node = S2Session(KEY, home_id=1, own_node_id=2, entropy=lambda n: b"\x10" * n)  # its seq: 0x10
        node.set_granted(1, set(KEY))
        report = decode_s2(hub.nonce_report(2))
        node.on_nonce_report(1, report)  # type: ignore[arg-type]
        hub.open(2, node.seal(1, b"\x20\x02"))
    return hub


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["none", "local_ei", "span"]), s2_frames)
def test_s2_open_raises_only_security_errors(state: str, data: bytes) -> None:
    hub = _hub_in(state)
    with contextlib.suppress(SecurityError):
        hub.open(2, data)
    # Whatever came in, the session still works: a fresh nonce exchange gets a frame through.
    node = S2Session(KEY, home_id=1, own_node_id=2, entropy=lambda n: b"\x20" * n)  # not a duplicate seq
    node.set_granted(1, set(KEY))
    node.on_nonce_report(1, decode_s2(hub.nonce_report(2)))  # type: ignore[arg-type]
    assert hub.open(2, node.seal(1, b"\x25\x03\xff")).payload == b"\x25\x03\xff"


@given(st.binary(max_size=40), st.booleans(), st.integers(0, 10))
def test_extension_parser_stays_in_bounds(data: bytes, encrypted: bool, reserve: int) -> None:
    try:
        _, used = parse_extensions(data, encrypted=encrypted, reserve=reserve)
    except SecurityError:
        return
    assert used <= len(data) - reserve


@given(
    st.one_of(
        st.binary(max_size=60),
        st.builds(
            lambda c, b: bytes((0x98, c)) + b,
            st.sampled_from([0x81, 0xC1, 0x80, 0x40]),
            st.binary(max_size=50),
        ),
    ),
    st.booleans(),
)
def test_s0_open_raises_only_security_errors(data: bytes, with_nonce: bool) -> None:
    lock = S0Session(bytes(range(16)), own_node_id=5)
    if with_nonce and len(data) > 12:
        # Make the frame name a nonce id we issued, so MAC checking and decryption are reached.
        report = lock.nonce_report(1, now=0.0)
        data = data[:-9] + report[2:3] + data[-8:]
    with contextlib.suppress(SecurityError):
        lock.open(1, data, now=0.0)


@given(
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.text(max_size=20), st.text(max_size=40)).map(lambda d: json.dumps(d).encode()),
    )
)
def test_keys_file_parser_raises_only_config_errors(raw: bytes) -> None:
    with contextlib.suppress(ConfigError):
        parse(raw, Path("keys.json"))


@given(
    st.lists(
        st.tuples(s2_frames, st.sampled_from([kex.PLAIN, None, *SecurityClass])),
        max_size=12,
    ),
    st.lists(st.sampled_from(["pin", "timeout", "undecryptable", "refused"]), max_size=3),
)
def test_the_kex_machine_takes_any_frames_without_raising(
    frames: list[tuple[bytes, kex.Via]], extra: list[str]
) -> None:
    private, public = x25519_keypair(bytes(range(32)))
    state, _ = kex.start(frozenset(SecurityClass), private, public)
    events: list[kex.Event] = []
    for data, via in frames:
        with contextlib.suppress(SecurityError):
            events.append(kex.Received(decode_s2(data), via))
    events += [
        {
            "pin": kex.PinEntered(1),
            "timeout": kex.TimedOut(),
            "undecryptable": kex.Undecryptable(),
            "refused": kex.Refused("not the provisioned DSK"),
        }[e]
        for e in extra
    ]
    for event in events:
        state, actions = kex.step(state, event)
        assert all(isinstance(a, kex.Action.__args__) for a in actions)  # type: ignore[attr-defined]
