"""S0 session: two sessions (hub and an old lock) exchange nonces and encapsulated frames."""

from __future__ import annotations

import pytest

from radios.zwave.security.errors import DecryptFailed, MalformedFrame, NoNonce
from radios.zwave.security.s0 import (
    MAX_NONCES_PER_NODE,
    NONCE_LIFETIME,
    S0Command,
    S0Session,
    command_of,
    network_key_set,
)

HUB, LOCK = 1, 5
KEY = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")


def sessions() -> tuple[S0Session, S0Session]:
    return S0Session(KEY, own_node_id=HUB), S0Session(KEY, own_node_id=LOCK)


def test_a_command_needs_the_receivers_nonce_and_uses_it_once() -> None:
    hub, lock = sessions()
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x62\x01\xff", now=0.0)
    hub.on_nonce_report(LOCK, lock.nonce_report(HUB, now=0.0), now=0.0)
    frame = hub.seal(LOCK, b"\x62\x01\xff", now=0.5)
    assert command_of(frame) is S0Command.MESSAGE_ENCAPSULATION
    opened = lock.open(HUB, frame, now=1.0)
    assert (opened.payload, opened.wants_nonce) == (b"\x62\x01\xff", False)
    with pytest.raises(NoNonce):
        lock.open(HUB, frame, now=1.0)  # the nonce is spent: a replay fails
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x62\x01\x00", now=1.0)  # and ours too


def test_an_expired_nonce_is_refused() -> None:
    hub, lock = sessions()
    hub.on_nonce_report(LOCK, lock.nonce_report(HUB, now=0.0), now=0.0)
    frame = hub.seal(LOCK, b"\x25\x01\xff", now=1.0)
    with pytest.raises(NoNonce):
        lock.open(HUB, frame, now=NONCE_LIFETIME + 0.1)


def test_a_flipped_bit_fails_the_mac() -> None:
    hub, lock = sessions()
    hub.on_nonce_report(LOCK, lock.nonce_report(HUB, now=0.0), now=0.0)
    frame = bytearray(hub.seal(LOCK, b"\x25\x01\xff", now=0.0))
    frame[12] ^= 0x40
    with pytest.raises(DecryptFailed):
        lock.open(HUB, bytes(frame), now=0.0)


def test_the_network_key_goes_under_the_temporary_key() -> None:
    hub = S0Session(KEY, own_node_id=HUB)
    joining = S0Session(bytes(16), own_node_id=LOCK)  # holds only the all-zero key yet
    hub.on_nonce_report(LOCK, joining.nonce_report(HUB, now=0.0), now=0.0)
    frame = hub.seal(LOCK, network_key_set(KEY), now=0.0, temporary=True)
    assert joining.open(HUB, frame, now=0.0).payload == network_key_set(KEY)
    _, lock = sessions()
    hub.on_nonce_report(LOCK, lock.nonce_report(HUB, now=0.0), now=0.0)
    with pytest.raises(DecryptFailed):
        lock.open(HUB, hub.seal(LOCK, b"\x98\x07", now=0.0, temporary=True), now=0.0)


def test_nonce_floods_are_bounded() -> None:
    _, lock = sessions()
    for _ in range(10 * MAX_NONCES_PER_NODE):
        lock.nonce_report(HUB, now=0.0)
    assert len(lock._peers[HUB].issued) <= MAX_NONCES_PER_NODE


def test_short_and_foreign_frames_are_malformed() -> None:
    _, lock = sessions()
    for bad in (b"", b"\x98", b"\x98\x81" + bytes(10), b"\x62\x01", b"\x98\x33"):
        with pytest.raises(MalformedFrame):
            lock.open(HUB, bad, now=0.0)
