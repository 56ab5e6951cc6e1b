"""S2 Message Encapsulation at its edges (issue 19): what a peer observes for each fault.

Two sessions talk to each other, or a hand-built sender seals frames from the spec's recipe (SPAN from
both EIs, CTR_DRBG nonce, CCM over the header) with the primitives checked against zwave-js's vectors,
so frames our own `seal` never makes (encrypted extensions, extension chains, Long Range node ids) can
be fed to `open`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.drbg import CtrDrbg
from radios.zwave.security.errors import DecryptFailed, DuplicateFrame, MalformedFrame, NoNonce, NotGranted
from radios.zwave.security.kdf import compute_nonce_prk, derive_mei, derive_network_keys, derive_temp_keys
from radios.zwave.security.primitives import ccm_encrypt
from radios.zwave.security.s2_cc import NonceReport, decode_s2
from radios.zwave.security.s2_encap import (
    Extension,
    ExtensionType,
    S2Session,
    SpanState,
    auth_data,
    parse_extensions,
)

HUB, LOCK, HOME = 1, 9, 0x0C0FFEE0
KEYS = {
    SecurityClass.S2_ACCESS_CONTROL: bytes(range(16)),
    SecurityClass.S2_AUTHENTICATED: bytes(range(16, 32)),
    SecurityClass.S2_UNAUTHENTICATED: bytes(range(32, 48)),
}
UNAUTH = SecurityClass.S2_UNAUTHENTICATED
AUTH = SecurityClass.S2_AUTHENTICATED
AC = SecurityClass.S2_ACCESS_CONTROL
RECEIVER_EI = bytes(range(0xA0, 0xB0))
SENDER_EI = bytes(range(0xC0, 0xD0))


def _pinned(*chunks: bytes) -> Callable[[int], bytes]:
    it: Iterator[bytes] = iter(chunks)
    return lambda n: next(it)[:n]


def _sessions(granted: set[SecurityClass], lock_id: int = LOCK) -> tuple[S2Session, S2Session]:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    lock = S2Session({k: KEYS[k] for k in granted}, home_id=HOME, own_node_id=lock_id)
    hub.set_granted(lock_id, granted)
    lock.set_granted(HUB, granted)
    return hub, lock


def _report(frame: bytes) -> NonceReport:
    report = decode_s2(frame)
    assert isinstance(report, NonceReport)
    return report


def _exchange(sender: S2Session, receiver: S2Session, sender_id: int, receiver_id: int) -> None:
    sender.nonce_get(receiver_id)
    sender.on_nonce_report(receiver_id, _report(receiver.nonce_report(sender_id)))


def _listening_hub(granted: set[SecurityClass]) -> S2Session:
    """A hub that granted LOCK `granted` and just answered its Nonce Get with RECEIVER_EI."""
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB, ei_source=_pinned(RECEIVER_EI))
    hub.set_granted(LOCK, granted)
    hub.nonce_report(LOCK)
    return hub


def _hand_sealed(
    payload: bytes,
    *,
    seq: int = 0x41,
    pnk: bytes = KEYS[UNAUTH],
    plain_ext: bytes | None = None,
    enc_ext: bytes = b"",
    sender: int = LOCK,
    dest: int = HUB,
) -> bytes:
    """LOCK's first frame on a new SPAN, sealed by the spec's recipe (SPAN extension first)."""
    keys = derive_network_keys(pnk)
    drbg = CtrDrbg(derive_mei(compute_nonce_prk(SENDER_EI, RECEIVER_EI)), keys.personalization)
    nonce = drbg.generate(16)[:13]
    if plain_ext is None:
        plain_ext = Extension(ExtensionType.SPAN, True, SENDER_EI).encode(more=False)
    flags = 0x01 | (0x02 if enc_ext else 0x00)
    header = bytes((seq, flags)) + plain_ext
    length = 2 + len(header) + len(enc_ext) + len(payload) + 8
    sealed = ccm_encrypt(keys.ccm, nonce, enc_ext + payload, auth_data(sender, dest, HOME, length, header))
    return bytes((0x9F, 0x03)) + header + sealed


# --- extensions ------------------------------------------------------------------------------------


def test_extension_encoding_carries_more_critical_and_type_flags() -> None:
    span = Extension(ExtensionType.SPAN, True, SENDER_EI)
    assert span.encode(more=False) == bytes((18, 0x41)) + SENDER_EI
    assert span.encode(more=True) == bytes((18, 0xC1)) + SENDER_EI
    assert Extension(ExtensionType.MOS, False, b"").encode(more=True) == b"\x02\x84"
    assert Extension(ExtensionType.MOS, False, b"").encode(more=False) == b"\x02\x04"


@pytest.mark.parametrize(
    ("kind", "data", "encrypted"),
    [
        (ExtensionType.SPAN, SENDER_EI, False),
        (ExtensionType.MGRP, b"\x05", False),
        (ExtensionType.MOS, b"", False),
        (ExtensionType.MPAN, b"\x05" + bytes(range(16)), True),
    ],
)
def test_each_known_extension_at_its_length_in_its_part_is_returned(
    kind: ExtensionType, data: bytes, encrypted: bool
) -> None:
    ext = Extension(kind, False, data).encode(more=False)
    assert parse_extensions(ext, encrypted=encrypted, reserve=0) == ([Extension(kind, False, data)], len(ext))
    # In the other part of the frame, or with one byte more or less, it is skipped, not an error.
    assert parse_extensions(ext, encrypted=not encrypted, reserve=0) == ([], len(ext))
    longer = Extension(kind, False, data + b"\x00").encode(more=False)
    assert parse_extensions(longer, encrypted=encrypted, reserve=0) == ([], len(longer))
    if data:
        shorter = Extension(kind, False, data[:-1]).encode(more=False)
        assert parse_extensions(shorter, encrypted=encrypted, reserve=0) == ([], len(shorter))


def test_extension_type_wire_values() -> None:
    assert [int(t) for t in ExtensionType] == [1, 2, 3, 4]
    assert [t.name for t in ExtensionType] == ["SPAN", "MPAN", "MGRP", "MOS"]


def test_a_chain_of_extensions_is_followed_to_the_one_without_more() -> None:
    chain = (
        Extension(ExtensionType.MOS, False, b"").encode(more=True)
        + Extension(0x3F, False, b"\x01\x02\x03").encode(more=True)
        + Extension(ExtensionType.SPAN, True, SENDER_EI).encode(more=False)
    )
    tag = bytes(8)
    found, used = parse_extensions(chain + Extension(ExtensionType.MOS, False, b"").encode(False) + tag,
                                   encrypted=False, reserve=8)  # fmt: skip
    assert used == len(chain)
    assert found == [Extension(ExtensionType.MOS, False, b""), Extension(ExtensionType.SPAN, True, SENDER_EI)]


def test_extension_lengths_are_bounded_by_the_frame_and_the_reserved_tag() -> None:
    # The smallest extension (2 bytes, no data) that exactly fills what is left is fine ...
    assert parse_extensions(b"\x02\x04", encrypted=False, reserve=0) == ([Extension(4, False, b"")], 2)
    assert parse_extensions(b"\x02\x04" + bytes(8), encrypted=False, reserve=8)[1] == 2
    # ... a header cut short, a length under 2, or a length reaching into the tag is malformed.
    for bad in (b"", b"\x02", b"\x01\x04", b"\x00\x04"):
        with pytest.raises(MalformedFrame):
            parse_extensions(bad, encrypted=False, reserve=0)
    with pytest.raises(MalformedFrame, match="does not fit"):
        parse_extensions(b"\x03\x3f\x00" + bytes(7), encrypted=False, reserve=8)
    # The same limits hold for the second extension of a chain (counted from where it starts).
    first = Extension(0x3F, False, b"").encode(more=True)
    second_ok = bytes((6, 0x3F)) + bytes(4)
    assert parse_extensions(first + second_ok + bytes(8), encrypted=False, reserve=8)[1] == 8
    for overrun in (7, 8, 9, 10):
        with pytest.raises(MalformedFrame, match="does not fit"):
            parse_extensions(first + bytes((overrun, 0x3F)) + bytes(4) + bytes(8), encrypted=False, reserve=8)
    with pytest.raises(MalformedFrame, match="truncated"):
        parse_extensions(first, encrypted=False, reserve=0)  # says "more" and ends


def test_unknown_critical_extension_after_a_known_one_discards_the_frame() -> None:
    chain = Extension(ExtensionType.MOS, False, b"").encode(more=True) + Extension(0x21, True, b"").encode(
        False
    )
    with pytest.raises(MalformedFrame, match="critical"):
        parse_extensions(chain, encrypted=False, reserve=0)


def test_a_span_extension_reaching_into_the_tag_is_refused_by_open() -> None:
    hub = _listening_hub({UNAUTH})
    frame = _hand_sealed(b"\x25\x01\xff")
    bad = bytearray(frame)
    bad[4] = len(frame) - 4 - 7  # the SPAN extension now claims all but 7 of the tag's 8 bytes
    with pytest.raises(MalformedFrame):
        hub.open(LOCK, bytes(bad))
    assert hub.open(LOCK, frame).payload == b"\x25\x01\xff"  # the good frame still opens


# --- frames with extensions from a hand-built sender --------------------------------------------------


def test_a_frame_sealed_by_the_spec_recipe_opens_with_its_sequence_number() -> None:
    hub = _listening_hub({UNAUTH})
    opened = hub.open(LOCK, _hand_sealed(b"\x62\x03\xff", seq=0x77))
    assert (opened.payload, opened.key, opened.seq) == (b"\x62\x03\xff", UNAUTH, 0x77)
    assert hub.span_state(LOCK) is SpanState.SPAN


def test_encrypted_extensions_are_stripped_from_the_payload() -> None:
    hub = _listening_hub({UNAUTH})
    mpan = Extension(ExtensionType.MPAN, True, b"\x05" + bytes(16)).encode(more=True)
    unknown = Extension(0x3E, False, b"\xaa").encode(more=False)
    opened = hub.open(LOCK, _hand_sealed(b"\x25\x01\x00", enc_ext=mpan + unknown))
    assert opened.payload == b"\x25\x01\x00"


def test_plain_extensions_besides_span_are_authenticated_and_skipped() -> None:
    hub = _listening_hub({UNAUTH})
    chain = Extension(ExtensionType.MGRP, False, b"\x07").encode(more=True) + Extension(
        ExtensionType.SPAN, True, SENDER_EI
    ).encode(more=False)
    assert hub.open(LOCK, _hand_sealed(b"\x20\x01\x63", plain_ext=chain)).payload == b"\x20\x01\x63"


def test_an_unknown_critical_plain_extension_discards_an_otherwise_good_frame() -> None:
    hub = _listening_hub({UNAUTH})
    chain = Extension(ExtensionType.SPAN, True, SENDER_EI).encode(more=True) + Extension(
        0x22, True, b""
    ).encode(False)
    with pytest.raises(MalformedFrame, match="critical"):
        hub.open(LOCK, _hand_sealed(b"\x20\x01\x63", plain_ext=chain))


def test_a_frame_at_a_class_the_node_was_not_granted_does_not_open() -> None:
    """A node granted only Unauthenticated cannot speak at Access Control, even with that key."""
    hub = _listening_hub({UNAUTH})
    with pytest.raises(DecryptFailed):
        hub.open(LOCK, _hand_sealed(b"\x62\x01\xff", pnk=KEYS[AC]))
    assert hub.span_state(LOCK) is SpanState.LOCAL_EI  # the offered EI still waits for a good frame
    assert hub.open(LOCK, _hand_sealed(b"\x62\x01\xff", seq=0x42)).key is UNAUTH


def test_a_granted_class_we_hold_no_key_for_is_not_tried() -> None:
    hub = S2Session({UNAUTH: KEYS[UNAUTH]}, home_id=HOME, own_node_id=HUB, ei_source=_pinned(RECEIVER_EI))
    hub.set_granted(LOCK, {AC, UNAUTH})
    hub.nonce_report(LOCK)
    opened = hub.open(LOCK, _hand_sealed(b"\x62\x01\xff"))
    assert (opened.payload, opened.key) == (b"\x62\x01\xff", UNAUTH)


def test_a_frame_that_is_not_an_s2_encapsulation_is_malformed() -> None:
    hub = _listening_hub({UNAUTH})
    frame = _hand_sealed(b"\x25\x01\xff")
    for bad in (frame[:3], b"\x98" + frame[1:], frame[:1] + b"\x01" + frame[2:]):
        with pytest.raises(MalformedFrame, match="not an S2"):
            hub.open(LOCK, bad)
    with pytest.raises(MalformedFrame, match="shorter than its tag"):
        hub.open(LOCK, b"\x9f\x03\x10\x00" + bytes(7))
    assert hub.open(LOCK, frame).seq == 0x41  # the session is still listening


# --- Long Range node ids ----------------------------------------------------------------------------


def test_auth_data_uses_two_byte_node_ids_when_either_is_long_range() -> None:
    header = b"\x10\x00"
    assert auth_data(1, 255, 0x01020304, 20, header) == bytes.fromhex("01ff0102030400141000")
    assert auth_data(256, 1, 0x01020304, 20, header) == bytes.fromhex("010000010102030400141000")
    assert auth_data(1, 256, 0x01020304, 20, header) == bytes.fromhex("000101000102030400141000")


@pytest.mark.parametrize("lock_id", [255, 256, 0x5FF])
def test_frames_travel_both_ways_with_a_long_range_node(lock_id: int) -> None:
    hub, lock = _sessions({UNAUTH}, lock_id)
    _exchange(hub, lock, HUB, lock_id)
    assert lock.open(HUB, hub.seal(lock_id, b"\x25\x01\xff")).payload == b"\x25\x01\xff"
    assert hub.open(lock_id, lock.seal(HUB, b"\x25\x03\xff")).payload == b"\x25\x03\xff"


# --- grants, temporary keys and the SPAN table --------------------------------------------------------


def test_granted_classes_read_back_per_node() -> None:
    hub = S2Session(KEYS, home_id=HOME)
    assert hub.granted(LOCK) == frozenset()
    hub.set_granted(LOCK, [UNAUTH, AC])
    assert hub.granted(LOCK) == frozenset({UNAUTH, AC})
    assert hub.granted(LOCK + 1) == frozenset()
    hub.forget(LOCK)
    assert hub.granted(LOCK) == frozenset()


def test_bootstrapping_is_true_exactly_while_a_temporary_key_is_installed() -> None:
    hub = S2Session(KEYS, home_id=HOME)
    assert hub.bootstrapping(LOCK) is False
    hub.set_granted(LOCK, {UNAUTH})
    assert hub.bootstrapping(LOCK) is False
    hub.set_temp_key(LOCK, derive_temp_keys(bytes(16)))
    assert hub.bootstrapping(LOCK) is True
    assert hub.default_key(LOCK) is None  # frames go under the temporary key
    hub.set_temp_key(LOCK, None)
    assert hub.bootstrapping(LOCK) is False
    assert hub.default_key(LOCK) is UNAUTH


def test_without_a_temporary_key_a_temporary_frame_cannot_be_sealed() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    with pytest.raises(NotGranted, match="temporary"):
        hub.seal(LOCK, b"\x9f\x01", key=None)
    with pytest.raises(NotGranted, match="no network key"):
        S2Session({UNAUTH: KEYS[UNAUTH]}).seal(LOCK, b"\x9f\x01", key=AC)


def test_installing_a_temporary_key_drops_an_established_span() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff"))
    assert hub.can_seal(LOCK, UNAUTH)
    temp = derive_temp_keys(bytes(range(50, 66)))
    hub.set_temp_key(LOCK, temp)
    assert hub.span_state(LOCK) is SpanState.NONE
    assert not hub.can_seal(LOCK, None) and not hub.can_seal(LOCK, UNAUTH)
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x9f\x09")


def test_an_ei_offered_before_the_temporary_key_still_sets_up_its_span() -> None:
    """The node's next frame may start its SPAN under the new key: the offered EI must survive."""
    temp = derive_temp_keys(bytes(range(70, 86)))
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    node = S2Session({}, home_id=HOME, own_node_id=LOCK)
    report = _report(hub.nonce_report(LOCK))
    hub.set_temp_key(LOCK, temp)
    assert hub.span_state(LOCK) is SpanState.LOCAL_EI
    node.set_temp_key(HUB, temp)
    node.on_nonce_report(HUB, report)
    opened = hub.open(LOCK, node.seal(HUB, b"\x9f\x05\x01", key=None))
    assert (opened.payload, opened.key) == (b"\x9f\x05\x01", None)
    assert hub.span_state(LOCK) is SpanState.SPAN


def test_offering_an_ei_is_not_a_span_we_can_seal_on() -> None:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
    hub.set_granted(LOCK, {UNAUTH})
    assert hub.span_state(LOCK) is SpanState.NONE
    hub.nonce_report(LOCK)
    assert hub.span_state(LOCK).name == "LOCAL_EI"
    for key in (None, UNAUTH, AUTH, AC):
        assert hub.can_seal(LOCK, key) is False
    with pytest.raises(NoNonce):
        hub.seal(LOCK, b"\x25\x02")


def test_can_seal_truth_table() -> None:
    hub, lock = _sessions({UNAUTH, AC})
    assert hub.can_seal(LOCK, AC) is False  # nothing known about the node yet
    assert hub.can_seal(LOCK + 1, UNAUTH) is False
    hub.nonce_get(LOCK)
    assert hub.can_seal(LOCK, AC) is False  # asked, not answered
    hub.on_nonce_report(LOCK, _report(lock.nonce_report(HUB)))
    assert hub.span_state(LOCK) is SpanState.REMOTE_EI
    assert hub.can_seal(LOCK, AC) is True and hub.can_seal(LOCK, UNAUTH) is True  # any key starts a SPAN
    lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff", key=AC))
    assert hub.can_seal(LOCK, AC) is True
    assert hub.can_seal(LOCK, UNAUTH) is False  # the SPAN is bound to AC
    assert hub.can_seal(LOCK, None) is False
    hub.reset(LOCK)
    assert hub.can_seal(LOCK, AC) is False


def test_a_mos_only_nonce_report_changes_nothing() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    hub.on_nonce_report(LOCK, NonceReport(3, sos=False, mos=True))
    assert hub.span_state(LOCK) is SpanState.REMOTE_EI
    assert lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff")).payload == b"\x25\x01\xff"


def test_nonce_report_is_an_sos_with_a_fresh_receiver_ei_each_time() -> None:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB, ei_source=_pinned(RECEIVER_EI, SENDER_EI))
    first, second = _report(hub.nonce_report(LOCK)), _report(hub.nonce_report(LOCK))
    assert first.sos and second.sos and not first.mos
    assert (first.receiver_ei, second.receiver_ei) == (RECEIVER_EI, SENDER_EI)
    assert second.seq == (first.seq + 1) & 0xFF


def test_sequence_numbers_count_per_peer_from_a_random_start_and_wrap() -> None:
    hub = S2Session(KEYS, home_id=HOME, entropy=_pinned(bytes(48), b"\xfe", b"\x10"))
    assert [hub.nonce_get(LOCK)[2] for _ in range(3)] == [0xFE, 0xFF, 0x00]
    assert hub.nonce_get(LOCK + 1)[2] == 0x10


def test_the_default_home_id_is_zero() -> None:
    hub = S2Session(KEYS, own_node_id=HUB)
    lock = S2Session({UNAUTH: KEYS[UNAUTH]}, home_id=0, own_node_id=LOCK)
    hub.set_granted(LOCK, {UNAUTH})
    lock.set_granted(HUB, {UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    assert lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff")).payload == b"\x25\x01\xff"


# --- replay, tampering, resync -------------------------------------------------------------------


def test_a_replayed_frame_is_a_duplicate_and_the_next_one_still_opens() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    first = hub.seal(LOCK, b"\x25\x01\xff")
    assert lock.open(HUB, first).seq == first[2]
    with pytest.raises(DuplicateFrame):
        lock.open(HUB, first)
    second = hub.seal(LOCK, b"\x25\x01\x00")
    assert lock.open(HUB, second).payload == b"\x25\x01\x00"
    with pytest.raises(DuplicateFrame):
        lock.open(HUB, second)


def test_a_tampered_header_or_tag_fails_and_the_span_survives_for_the_real_frame() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff"))
    frame = hub.seal(LOCK, b"\x25\x01\x00")
    for position in (2, len(frame) - 1, len(frame) - 9):  # sequence number, tag, ciphertext
        bad = bytearray(frame)
        bad[position] ^= 0x80  # (never the previous sequence number: that would be a duplicate)
        with pytest.raises(DecryptFailed):
            lock.open(HUB, bytes(bad))
    assert lock.span_state(HUB) is SpanState.SPAN


def test_without_a_span_a_plain_frame_asks_for_a_nonce() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x25\x01\xff"))
    frame = hub.seal(LOCK, b"\x25\x01\x00")
    lock.reset(HUB)  # the lock lost its SPAN (rebooted)
    with pytest.raises(NoNonce):
        lock.open(HUB, frame)
    # Its SOS starts a new SPAN; the hub's next frame carries it and opens.
    hub.on_nonce_report(LOCK, _report(lock.nonce_report(HUB)))
    assert lock.open(HUB, hub.seal(LOCK, b"\x25\x01\x63")).payload == b"\x25\x01\x63"
    assert lock.open(HUB, hub.seal(LOCK, b"\x25\x02")).payload == b"\x25\x02"


def test_a_span_frame_under_a_receiver_ei_we_did_not_offer_fails() -> None:
    hub = _listening_hub({UNAUTH})
    other = S2Session(KEYS, home_id=HOME, own_node_id=HUB, ei_source=_pinned(SENDER_EI))
    other.set_granted(LOCK, {UNAUTH})
    other.nonce_report(LOCK)
    with pytest.raises(DecryptFailed):
        other.open(LOCK, _hand_sealed(b"\x25\x01\xff"))  # sealed for RECEIVER_EI, not ours
    assert hub.open(LOCK, _hand_sealed(b"\x25\x01\xff")).payload == b"\x25\x01\xff"


def test_only_the_crossed_nonce_is_reused_once() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x20\x02"))
    to_lock = hub.seal(LOCK, b"\x20\x01\xff")
    to_hub = lock.seal(HUB, b"\x20\x03\x00")  # crossed in the air: same nonce both ways
    assert hub.open(LOCK, to_hub).payload == b"\x20\x03\x00"
    assert lock.open(HUB, to_lock).payload == b"\x20\x01\xff"
    # After a crossing both sides carry on in step.
    for i in range(3):
        assert hub.open(LOCK, lock.seal(HUB, bytes([0x20, 0x03, i]))).payload == bytes([0x20, 0x03, i])
        assert lock.open(HUB, hub.seal(LOCK, bytes([0x20, 0x01, i]))).payload == bytes([0x20, 0x01, i])


def test_a_session_repr_names_the_home_and_counts_peers() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    assert repr(hub) == f"S2Session(home_id=0x{HOME:08x}, peers=1)"


# --- beyond the sampled mutants: the rest of the public surface -------------------------------------


def test_five_lost_frames_are_skipped_a_sixth_needs_a_resync() -> None:
    """The receiver tries 5 nonces past its last one (zwave-js's window), spelled out here."""
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x20\x01\x00"))
    for _ in range(4):
        hub.seal(LOCK, b"\x20\x01\x63")  # lost in the air
    assert lock.open(HUB, hub.seal(LOCK, b"\x20\x01\xff")).payload == b"\x20\x01\xff"
    for _ in range(5):
        hub.seal(LOCK, b"\x20\x01\x63")
    with pytest.raises(DecryptFailed):
        lock.open(HUB, hub.seal(LOCK, b"\x20\x01\xff"))


def test_has_key_names_the_classes_we_hold() -> None:
    hub = S2Session({UNAUTH: KEYS[UNAUTH]})
    assert hub.has_key(UNAUTH) is True
    assert hub.has_key(AC) is False


def test_a_reset_forgets_the_peers_last_sequence_number() -> None:
    hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB, ei_source=_pinned(RECEIVER_EI, RECEIVER_EI))
    hub.set_granted(LOCK, {UNAUTH})
    hub.nonce_report(LOCK)
    assert hub.open(LOCK, _hand_sealed(b"\x25\x01\xff", seq=0x41)).seq == 0x41
    hub.reset(LOCK)  # e.g. the lock rebooted and its SOS got a new SPAN going
    hub.nonce_report(LOCK)
    assert hub.open(LOCK, _hand_sealed(b"\x25\x01\x00", seq=0x41)).payload == b"\x25\x01\x00"


def test_extensions_and_opened_frames_are_frozen_values() -> None:
    ext = Extension(ExtensionType.MOS, False, b"")
    assert {ext, Extension(ExtensionType.MOS, False, b"")} == {ext}
    with pytest.raises(AttributeError):
        ext.critical = True  # type: ignore[misc]
    hub = _listening_hub({UNAUTH})
    opened = hub.open(LOCK, _hand_sealed(b"\x25\x01\xff"))
    assert {opened, opened} == {opened}
    with pytest.raises(AttributeError):
        opened.seq = 0  # type: ignore[misc]


def test_the_default_own_node_id_is_one() -> None:
    hub = S2Session(KEYS, home_id=HOME)
    lock = S2Session({UNAUTH: KEYS[UNAUTH]}, home_id=HOME, own_node_id=LOCK)
    hub.set_granted(LOCK, {UNAUTH})
    lock.set_granted(1, {UNAUTH})
    _exchange(hub, lock, 1, LOCK)
    assert lock.open(1, hub.seal(LOCK, b"\x25\x01\xff")).payload == b"\x25\x01\xff"


def test_a_node_granted_nothing_has_no_default_key() -> None:
    hub = S2Session(KEYS, home_id=HOME)
    hub.set_granted(LOCK, {SecurityClass.S0_LEGACY})
    with pytest.raises(NotGranted, match="holds no S2 key"):
        hub.default_key(LOCK)
    with pytest.raises(NotGranted, match="holds no S2 key"):
        hub.seal(LOCK, b"\x25\x02")


def test_an_empty_payload_travels() -> None:
    hub, lock = _sessions({UNAUTH})
    _exchange(hub, lock, HUB, LOCK)
    lock.open(HUB, hub.seal(LOCK, b"\x25\x02"))
    frame = hub.seal(LOCK, b"")
    assert len(frame) == 4 + 8  # CC, command, seq, flags, tag
    assert lock.open(HUB, frame).payload == b""


def test_node_255_is_still_a_one_byte_id_either_way() -> None:
    assert auth_data(255, 1, 0x01020304, 20, b"") == bytes.fromhex("ff01010203040014")
    assert auth_data(1, 255, 0x01020304, 20, b"") == bytes.fromhex("01ff010203040014")


def test_a_frame_too_short_for_a_tag_says_so() -> None:
    hub = _listening_hub({UNAUTH})
    for size in (4, 5, 11):
        with pytest.raises(MalformedFrame, match="shorter than its tag"):
            hub.open(LOCK, b"\x9f\x03\x10\x00" + bytes(size - 4))


def test_an_encrypted_extension_may_end_the_plaintext() -> None:
    hub = _listening_hub({UNAUTH})
    mpan = Extension(ExtensionType.MPAN, True, b"\x05" + bytes(16)).encode(more=False)
    assert hub.open(LOCK, _hand_sealed(b"", enc_ext=mpan)).payload == b""
