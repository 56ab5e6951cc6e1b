"""Our S2/S0 crypto against zwave-js's own functions (vectors.json, made by tests/peers/zwave/s2_vectors.mjs)
and against the RFC 4493 (CMAC), RFC 3610 (CCM) and RFC 7748 (X25519) test vectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from radios.zwave.security.classes import BY_NAME, dsk_string
from radios.zwave.security.drbg import CtrDrbg
from radios.zwave.security.kdf import (
    compute_nonce_prk,
    compute_prk,
    derive_mei,
    derive_network_keys,
    derive_temp_keys,
)
from radios.zwave.security.primitives import (
    aes_cmac,
    aes_ofb,
    ccm_decrypt,
    ccm_encrypt,
    s0_mac,
    x25519_keypair,
    x25519_shared,
)
from radios.zwave.security.s0 import s0_keys
from radios.zwave.security.s2_encap import S2Session

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "vectors.json").read_text())
h = bytes.fromhex


def test_the_vectors_file_covers_every_primitive() -> None:
    for section in ("cmac", "ecdh", "network_keys", "mei", "drbg", "ccm", "s0", "s2_frames"):
        assert VECTORS[section], section


@pytest.mark.parametrize("v", VECTORS["cmac"], ids=lambda v: f"len{len(v['message']) // 2}")
def test_cmac_matches_zwavejs(v: dict[str, str]) -> None:
    assert aes_cmac(h(v["key"]), h(v["message"])).hex() == v["mac"]


@pytest.mark.parametrize("v", VECTORS["ecdh"])
def test_ecdh_prk_and_temporary_keys_match_zwavejs(v: dict[str, str]) -> None:
    _, public_a = x25519_keypair(h(v["private_a"]))
    assert public_a.hex() == v["public_a"]
    shared = x25519_shared(h(v["private_a"]), h(v["public_b"]))
    assert shared.hex() == v["shared"]
    assert x25519_shared(h(v["private_b"]), h(v["public_a"])) == shared
    prk = compute_prk(shared, h(v["public_a"]), h(v["public_b"]))
    assert prk.hex() == v["prk"]
    temp = derive_temp_keys(prk)
    assert (temp.ccm.hex(), temp.personalization.hex()) == (v["temp_ccm"], v["temp_personalization"])
    assert dsk_string(h(v["public_b"])[:16]) == v["dsk"]


@pytest.mark.parametrize("v", VECTORS["network_keys"])
def test_network_key_derivation_matches_zwavejs(v: dict[str, str]) -> None:
    keys = derive_network_keys(h(v["pnk"]))
    assert (keys.ccm.hex(), keys.personalization.hex(), keys.mpan.hex()) == (
        v["ccm"],
        v["personalization"],
        v["mpan"],
    )


@pytest.mark.parametrize("v", VECTORS["mei"])
def test_nonce_prk_and_mei_match_zwavejs(v: dict[str, str]) -> None:
    prk = compute_nonce_prk(h(v["sender_ei"]), h(v["receiver_ei"]))
    assert prk.hex() == v["nonce_prk"]
    assert derive_mei(prk).hex() == v["mei"]


@pytest.mark.parametrize("v", VECTORS["drbg"])
def test_ctr_drbg_matches_zwavejs(v: dict[str, Any]) -> None:
    drbg = CtrDrbg(h(v["entropy"]), h(v["personalization"]))
    assert [drbg.generate(n).hex() for n in v["lengths"]] == v["outputs"]


@pytest.mark.parametrize("v", VECTORS["ccm"])
def test_ccm_matches_zwavejs(v: dict[str, str]) -> None:
    sealed = ccm_encrypt(h(v["key"]), h(v["nonce"]), h(v["plaintext"]), h(v["aad"]))
    assert sealed.hex() == v["ciphertext"] + v["tag"]
    assert ccm_decrypt(h(v["key"]), h(v["nonce"]), sealed, h(v["aad"])) == h(v["plaintext"])
    tampered = bytes([sealed[0] ^ 1]) + sealed[1:]
    assert ccm_decrypt(h(v["key"]), h(v["nonce"]), tampered, h(v["aad"])) is None


@pytest.mark.parametrize("v", VECTORS["s0"])
def test_s0_keys_ofb_and_mac_match_zwavejs(v: dict[str, str]) -> None:
    auth, enc = s0_keys(h(v["network_key"]))
    assert (auth.hex(), enc.hex()) == (v["auth_key"], v["enc_key"])
    assert aes_ofb(enc, h(v["iv"]), h(v["plaintext"])).hex() == v["ofb"]
    assert s0_mac(auth, h(v["auth_data"])).hex() == v["mac"]


def _pinned(*chunks: bytes) -> Callable[[int], bytes]:
    it: Iterator[bytes] = iter(chunks)

    def source(n: int) -> bytes:
        chunk = next(it)
        assert len(chunk) == n
        return chunk

    return source


@pytest.mark.parametrize("v", VECTORS["s2_frames"], ids=lambda v: v["security_class"])
def test_our_s2_frames_are_byte_identical_to_zwavejs(v: dict[str, Any]) -> None:
    cls = BY_NAME[v["security_class"]]
    session = S2Session(
        {cls: h(v["network_key"])},
        home_id=v["home_id"],
        own_node_id=v["controller"],
        entropy=_pinned(bytes([v["first_seq"]])),
        ei_source=_pinned(h(v["sender_ei"])),
    )
    node = v["node"]
    session.set_granted(node, {cls})
    from radios.zwave.security.s2_cc import NonceReport

    session.on_nonce_report(node, NonceReport(0, sos=True, receiver_ei=h(v["receiver_ei"])))
    sealed = [session.seal(node, h(p)).hex() for p in v["outbound_payloads"]]
    assert sealed == v["outbound"]


@pytest.mark.parametrize("v", VECTORS["s2_frames"], ids=lambda v: v["security_class"])
def test_we_open_a_frame_zwavejs_sealed(v: dict[str, Any]) -> None:
    cls = BY_NAME[v["security_class"]]
    session = S2Session(
        {cls: h(v["network_key"])},
        home_id=v["home_id"],
        own_node_id=v["controller"],
        ei_source=_pinned(h(v["receiver_ei"])),
    )
    node = v["node"]
    session.set_granted(node, {cls})
    session.nonce_report(node)  # offers receiver_ei
    opened = session.open(node, h(v["inbound"]))
    assert (opened.payload.hex(), opened.key, opened.seq) == (v["inbound_payload"], cls, v["inbound_seq"])


# --- RFC vectors --------------------------------------------------------------------------------------

RFC4493_KEY = h("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MSG = h(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "mac"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_cmac_rfc4493(length: int, mac: str) -> None:
    assert aes_cmac(RFC4493_KEY, RFC4493_MSG[:length]).hex() == mac


def test_ccm_rfc3610_packet_vector_1() -> None:
    key = h("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
    nonce = h("00000003020100a0a1a2a3a4a5")
    aad = h("0001020304050607")
    plaintext = bytes(range(0x08, 0x1F))
    expected = "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"
    assert ccm_encrypt(key, nonce, plaintext, aad).hex() == expected
    assert ccm_decrypt(key, nonce, h(expected), aad) == plaintext


def test_x25519_rfc7748_section_6_1() -> None:
    alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert (
        x25519_keypair(alice)[1].hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert x25519_keypair(bob)[1].hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert x25519_shared(alice, x25519_keypair(bob)[1]).hex() == shared
    assert x25519_shared(bob, x25519_keypair(alice)[1]).hex() == shared


def test_x25519_refuses_a_low_order_point() -> None:
    with pytest.raises(ValueError):
        x25519_shared(bytes(range(32)), bytes(32))
