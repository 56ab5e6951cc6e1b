"""S0 at its edges (issue 19): the exact bytes of a frame against a reference built from SDS10865's recipe,
nonce lifetime and cap at their boundaries, nonce ids unique, sizes at the minimum."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from radios.zwave.security.errors import DecryptFailed, MalformedFrame, NoNonce
from radios.zwave.security.primitives import aes_ecb, aes_ofb, s0_mac
from radios.zwave.security.s0 import (
    MAX_NONCES_PER_NODE,
    NONCE_LIFETIME,
    Opened,
    S0Command,
    S0Session,
    command_of,
    network_key_set,
    nonce_get,
    parse_nonce_report,
    scheme_get,
)

HUB, LOCK = 1, 0x85  # a node id with the top bit set, so the header's byte masks matter
KEY = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")


def entropy(*chunks: bytes) -> Callable[[int], bytes]:
    """Entropy that hands out `chunks` in order (each of the asked length)."""
    it: Iterator[bytes] = iter(chunks)

    def draw(n: int) -> bytes:
        chunk = next(it)
        assert len(chunk) == n
        return chunk

    return draw


def reference_frame(
    key: bytes, cmd: int, sender: bytes, receiver: bytes, payload: bytes, src: int, dst: int
) -> bytes:
    """An S0 Message Encapsulation built step by step from the spec's description."""
    auth_key, enc_key = aes_ecb(key, bytes([0x55] * 16)), aes_ecb(key, bytes([0xAA] * 16))
    ciphertext = aes_ofb(enc_key, sender + receiver, b"\x00" + payload)
    header = bytes([cmd, src, dst, len(ciphertext)])
    mac = s0_mac(auth_key, sender + receiver + header + ciphertext)
    return bytes([0x98, cmd]) + sender + ciphertext + receiver[:1] + mac


SENDER = bytes.fromhex("a1a2a3a4a5a6a7a8")
RECEIVER = bytes.fromhex("3132333435363738")


def test_a_sealed_frame_is_exactly_the_reference() -> None:
    hub = S0Session(KEY, own_node_id=HUB, entropy=entropy(SENDER))
    hub.on_nonce_report(LOCK, bytes([0x98, 0x80]) + RECEIVER, now=0.0)
    payload = b"\x62\x01\xff"
    sealed = hub.seal(LOCK, payload, now=0.0)
    assert sealed == reference_frame(KEY, 0x81, SENDER, RECEIVER, payload, HUB, LOCK)


def test_the_key_exchange_frame_is_exactly_the_reference_under_the_zero_key() -> None:
    hub = S0Session(KEY, own_node_id=HUB, entropy=entropy(SENDER))
    hub.on_nonce_report(LOCK, bytes([0x98, 0x80]) + RECEIVER, now=0.0)
    sealed = hub.seal(LOCK, network_key_set(KEY), now=0.0, temporary=True)
    assert sealed == reference_frame(bytes(16), 0x81, SENDER, RECEIVER, b"\x98\x06" + KEY, HUB, LOCK)


def test_a_reference_frame_opens_and_a_nonce_get_variant_asks_for_a_nonce() -> None:
    lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(RECEIVER, bytes([0x40]) + RECEIVER[1:]))
    assert lock.nonce_report(HUB, now=0.0) == bytes([0x98, 0x80]) + RECEIVER
    frame = reference_frame(KEY, 0x81, SENDER, RECEIVER, b"\x25\x01\x00", HUB, LOCK)
    assert lock.open(HUB, frame, now=0.0) == Opened(b"\x25\x01\x00", False)
    second = bytes([0x40]) + RECEIVER[1:]
    lock.nonce_report(HUB, now=0.0)
    frame = reference_frame(KEY, 0xC1, SENDER, second, b"\x25\x02", HUB, LOCK)
    assert lock.open(HUB, frame, now=0.0) == Opened(b"\x25\x02", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Opened(b"", False).payload = b"x"  # type: ignore[misc]


def test_a_segmented_frame_is_refused() -> None:
    lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(RECEIVER))
    lock.nonce_report(HUB, now=0.0)
    good = reference_frame(KEY, 0x81, SENDER, RECEIVER, b"\x25\x01\x00", HUB, LOCK)
    # Rebuild with the frame control's "segmented" bit set.
    auth_key, enc_key = aes_ecb(KEY, bytes([0x55] * 16)), aes_ecb(KEY, bytes([0xAA] * 16))
    ciphertext = aes_ofb(enc_key, SENDER + RECEIVER, b"\x10\x25\x01\x00")
    mac = s0_mac(auth_key, SENDER + RECEIVER + bytes([0x81, HUB, LOCK, 4]) + ciphertext)
    segmented = bytes([0x98, 0x81]) + SENDER + ciphertext + RECEIVER[:1] + mac
    assert len(segmented) == len(good)
    with pytest.raises(MalformedFrame, match="segmented"):
        lock.open(HUB, segmented, now=0.0)


def test_simple_frames_are_the_spec_bytes() -> None:
    assert (scheme_get(), nonce_get(), network_key_set(KEY)) == (
        b"\x98\x04\x00",
        b"\x98\x40",
        b"\x98\x06" + KEY,
    )
    assert command_of(b"\x98\x08") is S0Command.SCHEME_INHERIT
    assert command_of(b"\x98\xc1") is S0Command.MESSAGE_ENCAPSULATION_NONCE_GET
    assert parse_nonce_report(b"\x98\x80" + RECEIVER + b"extra") == RECEIVER
    for bad, words in (
        (b"", "not a Security"),
        (b"\x98", "not a Security"),
        (b"\x62\x01", "not a Security"),
        (b"\x98\x33", "unknown Security command 0x33"),
    ):
        with pytest.raises(MalformedFrame, match=words):
            command_of(bad)
    for bad in (b"\x98\x80" + RECEIVER[:7], b"\x98\x40" + RECEIVER):
        with pytest.raises(MalformedFrame, match="Nonce Report"):
            parse_nonce_report(bad)


def test_an_encapsulation_of_the_minimum_size_is_parsed() -> None:
    lock = S0Session(KEY, own_node_id=LOCK)
    header = b"\x98\x81"
    with pytest.raises(MalformedFrame, match="too short"):
        lock.open(HUB, header + bytes(17), now=0.0)
    with pytest.raises(NoNonce, match="nonce id 0x00"):
        lock.open(HUB, header + bytes(18), now=0.0)  # long enough: it is the nonce that is wrong
    with pytest.raises(MalformedFrame, match="not an S0 Message Encapsulation"):
        lock.open(HUB, b"\x98\x80" + bytes(18), now=0.0)


def test_our_nonce_for_a_node_ends_exactly_at_its_lifetime() -> None:
    assert NONCE_LIFETIME == 10.0
    for when, opens in ((9.999, True), (10.0, False)):
        lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(RECEIVER))
        lock.nonce_report(HUB, now=0.0)
        frame = reference_frame(KEY, 0x81, SENDER, RECEIVER, b"\x25\x01\x00", HUB, LOCK)
        if opens:
            assert lock.open(HUB, frame, now=when).payload == b"\x25\x01\x00"
        else:
            with pytest.raises(NoNonce, match="expired"):
                lock.open(HUB, frame, now=when)


def test_a_nodes_nonce_for_us_ends_exactly_at_its_lifetime() -> None:
    hub = S0Session(KEY, own_node_id=HUB, entropy=entropy(SENDER, SENDER))
    assert hub.can_seal(LOCK, 0.0) is False
    hub.on_nonce_report(LOCK, b"\x98\x80" + RECEIVER, now=5.0)
    assert hub.can_seal(LOCK, 14.999) is True and hub.can_seal(LOCK, 15.0) is False
    assert hub.can_seal(2, 6.0) is False
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x25\x01\x00", now=15.0)
    with pytest.raises(NoNonce):  # and the stale nonce was dropped, not kept for later
        hub.seal(LOCK, b"\x25\x01\x00", now=6.0)
    hub.on_nonce_report(LOCK, b"\x98\x80" + RECEIVER, now=5.0)
    assert len(hub.seal(LOCK, b"\x25\x01\x00", now=14.999)) > 18


def test_nonce_ids_are_unique_among_the_live_ones_only() -> None:
    first = bytes([0x01]) + RECEIVER[1:]
    again = bytes([0x01]) + bytes(7)
    other = bytes([0x02]) + RECEIVER[1:]
    lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(first, again, other, again))
    assert lock.nonce_report(HUB, now=0.0)[2:] == first
    assert lock.nonce_report(HUB, now=1.0)[2:] == other  # id 0x01 is live: drawn again
    # At t=10 the first one has expired, so its id may be drawn again.
    assert lock.nonce_report(HUB, now=10.0)[2:] == again


def test_at_most_eight_nonces_per_node_and_the_oldest_goes() -> None:
    assert MAX_NONCES_PER_NODE == 8
    nonces = [bytes([n + 1]) + RECEIVER[1:] for n in range(MAX_NONCES_PER_NODE + 1)]
    lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(*nonces))
    for n in range(MAX_NONCES_PER_NODE + 1):
        lock.nonce_report(HUB, now=float(n) / 10)
    with pytest.raises(NoNonce):
        lock.open(HUB, reference_frame(KEY, 0x81, SENDER, nonces[0], b"\x25\x01\x00", HUB, LOCK), 1.0)
    for nonce in nonces[1:]:
        frame = reference_frame(KEY, 0x81, SENDER, nonce, b"\x25\x01\x00", HUB, LOCK)
        assert lock.open(HUB, frame, now=1.0).payload == b"\x25\x01\x00"


def test_a_wrong_mac_spends_the_nonce_and_a_forgotten_node_has_none() -> None:
    lock = S0Session(KEY, own_node_id=LOCK, entropy=entropy(RECEIVER))
    lock.nonce_report(HUB, now=0.0)
    frame = bytearray(reference_frame(KEY, 0x81, SENDER, RECEIVER, b"\x25\x01\x00", HUB, LOCK))
    frame[-1] ^= 1
    with pytest.raises(DecryptFailed):
        lock.open(HUB, bytes(frame), now=0.0)
    frame[-1] ^= 1
    with pytest.raises(NoNonce):
        lock.open(HUB, bytes(frame), now=0.0)
    hub = S0Session(KEY, own_node_id=HUB, entropy=entropy(SENDER))
    hub.on_nonce_report(LOCK, b"\x98\x80" + RECEIVER, now=0.0)
    hub.forget(LOCK)
    assert hub.can_seal(LOCK, 0.0) is False and "peers=0" in repr(hub)
