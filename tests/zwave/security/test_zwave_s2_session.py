"""S2Session: two sessions (the hub and a node) exchange frames, lose sync and find it again."""

from __future__ import annotations

import pytest

from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.errors import DecryptFailed, DuplicateFrame, MalformedFrame, NoNonce, NotGranted
from radios.zwave.security.kdf import derive_temp_keys
from radios.zwave.security.s2_cc import NonceReport, decode_s2
from radios.zwave.security.s2_encap import (
    MAX_DECRYPT_ATTEMPTS,
    Extension,
    S2Session,
    SpanState,
    parse_extensions,
)

HUB, LOCK, HOME = 1, 9, 0xDEADBEEF
KEYS = {
    SecurityClass.S2_ACCESS_CONTROL: bytes(range(16)),
    SecurityClass.S2_AUTHENTICATED: bytes(range(16, 32)),
    SecurityClass.S2_UNAUTHENTICATED: bytes(range(32, 48)),
}
UNAUTH = SecurityClass.S2_UNAUTHENTICATED
AC = SecurityClass.S2_ACCESS_CONTROL


def pair(granted: set[SecurityClass]) -> tuple[S2Session, S2Session]:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    lock = S2Session({k: KEYS[k] for k in granted}, home_id=HOME, own_node_id=LOCK)
    hub.set_granted(LOCK, granted)
    lock.set_granted(HUB, granted)
    return hub, lock


def nonce_exchange(sender: S2Session, receiver: S2Session, sender_id: int, receiver_id: int) -> None:
    """Sender asks (Nonce Get), receiver answers (Nonce Report SOS), sender takes it."""
    assert decode_s2(sender.nonce_get(receiver_id)).command == 0x01
    report = decode_s2(receiver.nonce_report(sender_id))
    assert isinstance(report, NonceReport)
    sender.on_nonce_report(receiver_id, report)


def test_a_command_travels_both_ways_on_one_span_at_the_highest_class() -> None:
    hub, lock = pair({UNAUTH, AC})
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x62\x01\xff")
    nonce_exchange(hub, lock, HUB, LOCK)
    frame = hub.seal(LOCK, b"\x62\x01\xff")
    opened = lock.open(HUB, frame)
    assert (opened.payload, opened.key) == (b"\x62\x01\xff", AC)
    # The lock answers on the same SPAN, no new nonce exchange.
    assert lock.span_state(HUB) is SpanState.SPAN
    for i in range(5):
        report = lock.seal(HUB, b"\x62\x03" + bytes([i]))
        assert hub.open(LOCK, report).payload == b"\x62\x03" + bytes([i])
        assert lock.open(HUB, hub.seal(LOCK, b"\x62\x02")).payload == b"\x62\x02"


def test_a_repeated_frame_is_a_duplicate() -> None:
    hub, lock = pair({UNAUTH})
    nonce_exchange(hub, lock, HUB, LOCK)
    frame = hub.seal(LOCK, b"\x25\x01\xff")
    lock.open(HUB, frame)
    with pytest.raises(DuplicateFrame):
        lock.open(HUB, frame)


def test_a_tampered_frame_fails_and_a_nonce_report_resynchronises() -> None:
    hub, lock = pair({UNAUTH})
    nonce_exchange(hub, lock, HUB, LOCK)
    frame = bytearray(hub.seal(LOCK, b"\x25\x01\xff"))
    frame[-1] ^= 0x01
    with pytest.raises(DecryptFailed):
        lock.open(HUB, bytes(frame))
    # The lock answers the failure with a Nonce Report (SOS); the hub's next frame carries a new SPAN.
    hub.on_nonce_report(LOCK, _report(lock.nonce_report(HUB)))
    assert lock.open(HUB, hub.seal(LOCK, b"\x25\x01\x00")).payload == b"\x25\x01\x00"


def _report(frame: bytes) -> NonceReport:
    report = decode_s2(frame)
    assert isinstance(report, NonceReport)
    return report


def test_lost_frames_within_the_window_are_skipped_beyond_it_need_a_resync() -> None:
    hub, lock = pair({UNAUTH})
    nonce_exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x20\x01\x00"))
    for _ in range(MAX_DECRYPT_ATTEMPTS - 1):
        hub.seal(LOCK, b"\x20\x01\x63")  # lost in the air
    assert lock.open(HUB, hub.seal(LOCK, b"\x20\x01\xff")).payload == b"\x20\x01\xff"
    for _ in range(MAX_DECRYPT_ATTEMPTS):
        hub.seal(LOCK, b"\x20\x01\x63")
    with pytest.raises(DecryptFailed):
        lock.open(HUB, hub.seal(LOCK, b"\x20\x01\xff"))


def test_frames_that_cross_in_the_air_on_the_same_nonce_both_open() -> None:
    hub, lock = pair({UNAUTH})
    nonce_exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x20\x02"))
    to_lock = hub.seal(LOCK, b"\x20\x01\xff")
    to_hub = lock.seal(HUB, b"\x20\x03\x00")  # sent before the lock saw ours
    assert hub.open(LOCK, to_hub).payload == b"\x20\x03\x00"
    assert lock.open(HUB, to_lock).payload == b"\x20\x01\xff"


def test_a_span_frame_we_never_offered_an_ei_for_fails() -> None:
    hub, lock = pair({UNAUTH})
    nonce_exchange(lock, hub, LOCK, HUB)  # the lock got an EI from the hub
    frame = lock.seal(HUB, b"\x71\x05")
    hub.reset(LOCK)  # e.g. the hub restarted
    with pytest.raises(DecryptFailed):
        hub.open(LOCK, frame)


def test_the_wrong_network_key_does_not_open() -> None:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    hub.set_granted(LOCK, {UNAUTH})
    stranger = S2Session({UNAUTH: bytes(16)}, home_id=HOME, own_node_id=LOCK)
    stranger.set_granted(HUB, {UNAUTH})
    nonce_exchange(stranger, hub, LOCK, HUB)
    with pytest.raises(DecryptFailed):
        hub.open(LOCK, stranger.seal(HUB, b"\x62\x03\xff"))
    assert hub.span_state(LOCK) is SpanState.LOCAL_EI  # still waiting for a good frame


def test_another_home_id_does_not_open() -> None:
    hub, lock = pair({UNAUTH})
    lock.home_id = HOME ^ 1
    nonce_exchange(hub, lock, HUB, LOCK)
    with pytest.raises(DecryptFailed):
        lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff"))


def test_sealing_at_another_class_asks_for_a_new_nonce() -> None:
    hub, lock = pair({UNAUTH, AC})
    nonce_exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff", key=AC))
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x25\x01\xff", key=UNAUTH)
    nonce_exchange(hub, lock, HUB, LOCK)
    opened = lock.open(HUB, hub.seal(LOCK, b"\x25\x01\x00", key=UNAUTH))
    assert opened.key is UNAUTH


def test_a_node_without_s2_keys_is_refused() -> None:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    with pytest.raises(NotGranted):
        hub.seal(LOCK, b"\x25\x01\xff")


def test_the_temporary_key_is_used_while_bootstrapping() -> None:
    hub, lock = pair(set())
    temp = derive_temp_keys(bytes(range(100, 116)))
    hub.set_temp_key(LOCK, temp)
    lock.set_temp_key(HUB, temp)
    nonce_exchange(lock, hub, LOCK, HUB)
    opened = hub.open(LOCK, lock.seal(HUB, b"\x9f\x09\x01"))
    assert (opened.payload, opened.key) == (b"\x9f\x09\x01", None)


def test_extensions_unknown_noncritical_are_skipped_critical_discard() -> None:
    plain = Extension(0x3F, False, b"\x01\x02").encode(True) + Extension(1, True, bytes(16)).encode(False)
    found, used = parse_extensions(plain + bytes(8), encrypted=False, reserve=8)
    assert [e.type for e in found] == [1] and used == len(plain)
    with pytest.raises(MalformedFrame):
        parse_extensions(Extension(0x3F, True, b"").encode(False) + bytes(8), encrypted=False, reserve=8)
    with pytest.raises(MalformedFrame):
        parse_extensions(b"\x30\x01" + bytes(8), encrypted=False, reserve=8)  # longer than the frame
