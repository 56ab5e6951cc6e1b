"""BTHome byte vectors (tests/ble/make_vectors.py) through bthome-ble into CONTRACT attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radios.ble.bthome import BTHOME_UUID, BTHomeDevice, Verdict

VECTORS = json.loads(Path(__file__).with_name("vectors.json").read_text())
MAC = VECTORS["mac"]
KEY = bytes.fromhex(VECTORS["key"])


def sd(hex_data: str) -> dict[str, bytes]:
    return {BTHOME_UUID: bytes.fromhex(hex_data)}


@pytest.mark.parametrize("vector", VECTORS["plain"], ids=lambda v: v["name"])
def test_plain_vectors_map_to_contract_attributes(vector: dict) -> None:
    reading = BTHomeDevice(MAC).decode(sd(vector["data"]))
    assert reading.verdict is Verdict.OK
    assert dict(reading.attributes or {}) == pytest.approx(vector["attributes"])
    assert [list(b) for b in reading.buttons] == vector.get("buttons", [])


@pytest.mark.parametrize("vector", VECTORS["encrypted"], ids=lambda v: v["name"])
def test_encrypted_vectors_decrypt_with_the_key(vector: dict) -> None:
    reading = BTHomeDevice(MAC, KEY).decode(sd(vector["data"]))
    assert reading.verdict is Verdict.OK
    assert reading.encrypted
    assert reading.counter == vector["counter"]
    assert dict(reading.attributes or {}) == pytest.approx(vector["attributes"])


def test_encrypted_without_key_needs_key() -> None:
    reading = BTHomeDevice(MAC).decode(sd(VECTORS["encrypted"][0]["data"]))
    assert reading.verdict is Verdict.NEEDS_KEY and reading.attributes is None


def test_wrong_key_is_refused() -> None:
    device = BTHomeDevice(MAC, bytes.fromhex(VECTORS["other_key"]))
    assert device.decode(sd(VECTORS["encrypted"][0]["data"])).verdict is Verdict.WRONG_KEY
    assert BTHomeDevice(MAC, KEY).decode(sd(VECTORS["wrong_key"])).verdict is Verdict.WRONG_KEY


def test_replayed_or_older_counter_is_refused() -> None:
    device = BTHomeDevice(MAC, KEY)
    first, second, _ = VECTORS["encrypted"]
    assert device.decode(sd(second["data"])).verdict is Verdict.OK
    assert device.decode(sd(second["data"])).verdict is Verdict.REPLAY
    assert device.decode(sd(first["data"])).verdict is Verdict.REPLAY
    device.set_key(KEY)  # setting the key again starts the count afresh
    assert device.decode(sd(first["data"])).verdict is Verdict.OK


def test_plaintext_from_a_keyed_device_is_refused() -> None:
    reading = BTHomeDevice(MAC, KEY).decode(sd(VECTORS["plain"][0]["data"]))
    assert reading.verdict is Verdict.PLAINTEXT_REFUSED


def test_repeated_packet_id_is_dropped_within_the_window() -> None:
    device = BTHomeDevice(MAC)
    data = sd(VECTORS["plain"][0]["data"])  # packet id 7
    assert device.decode(data, now=100.0).verdict is Verdict.OK
    assert device.decode(data, now=101.0).verdict is Verdict.DUPLICATE
    assert device.decode(sd(VECTORS["plain"][1]["data"]), now=101.5).verdict is Verdict.OK  # id 8
    assert device.decode(data, now=102.0).verdict is Verdict.DUPLICATE  # id 7 is older
    assert device.decode(data, now=107.0).verdict is Verdict.OK  # same id, but long after


def test_not_bthome() -> None:
    assert BTHomeDevice(MAC).decode({}).verdict is Verdict.NOT_BTHOME
    assert BTHomeDevice(MAC).decode({BTHOME_UUID: b"\x20\x01"}).verdict is Verdict.NOT_BTHOME  # version 1


@settings(max_examples=300, deadline=None)
@given(
    info=st.sampled_from([b"", b"\x40", b"\x41", b"\x44", b"\x45"]),
    body=st.binary(min_size=0, max_size=40),
    keyed=st.booleans(),
)
def test_fuzz_any_bytes_give_a_verdict_never_an_exception(info: bytes, body: bytes, keyed: bool) -> None:
    data = info + body
    reading = BTHomeDevice(MAC, KEY if keyed else None).decode({BTHOME_UUID: data})
    assert isinstance(reading.verdict, Verdict)
    for name, value in (reading.attributes or {}).items():
        assert name in {
            "temperature",
            "humidity",
            "illuminance",
            "battery",
            "power",
            "energy",
            "contact",
            "motion",
            "water",
        }
        assert isinstance(value, str | int | float)
