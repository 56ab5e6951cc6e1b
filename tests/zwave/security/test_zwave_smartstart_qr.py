"""QR code strings: our parser against zwave-js's `parseQRCodeString` on the same strings (vectors.json),
and fuzzed: only QRCodeError escapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.qr import QRCodeError, parse_qr

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "vectors.json").read_text())["qr"]
ZWAVEJS_CLASS = {
    0: SecurityClass.S2_UNAUTHENTICATED,
    1: SecurityClass.S2_AUTHENTICATED,
    2: SecurityClass.S2_ACCESS_CONTROL,
    7: SecurityClass.S0_LEGACY,
}


@pytest.mark.parametrize("v", VECTORS, ids=[f"qr{i}" for i in range(len(VECTORS))])
def test_qr_parse_matches_zwavejs(v: dict[str, Any]) -> None:
    if "error" in v:
        with pytest.raises(QRCodeError):
            parse_qr(v["qr"])
        return
    want = v["parsed"]
    got = parse_qr(v["qr"])
    assert got.version == want["version"]
    assert got.requested == {ZWAVEJS_CLASS[c] for c in want["requestedSecurityClasses"]}
    assert got.dsk == want["dsk"]
    assert (got.generic_device_class, got.specific_device_class, got.installer_icon) == (
        want["genericDeviceClass"],
        want["specificDeviceClass"],
        want["installerIconType"],
    )
    assert (got.manufacturer_id, got.product_type, got.product_id, got.application_version) == (
        want["manufacturerId"],
        want["productType"],
        want["productId"],
        want["applicationVersion"],
    )
    assert got.max_inclusion_request_interval == want.get("maxInclusionRequestInterval")
    assert got.uuid16 == want.get("uuid")
    if "supportedProtocols" in want:
        assert got.supported_protocols == ("Z-Wave", "Z-Wave Long Range")[: len(want["supportedProtocols"])]


def test_the_vectors_hold_valid_and_invalid_codes() -> None:
    assert sum("error" in v for v in VECTORS) >= 3 and sum("parsed" in v for v in VECTORS) >= 3


def test_whitespace_is_ignored_and_problems_are_named() -> None:
    good = next(v["qr"] for v in VECTORS if "parsed" in v)
    assert parse_qr(" ".join(good[i : i + 5] for i in range(0, len(good), 5))).dsk == parse_qr(good).dsk
    for bad, why in (
        ("80" + good[2:], "start with 90"),
        (good[:40], "too short"),
        (good[:-1] + "x", "digits"),
    ):
        with pytest.raises(QRCodeError, match=why):
            parse_qr(bad)


@given(st.one_of(st.text(max_size=120), st.from_regex(r"90[0-9]{50,110}", fullmatch=True)))
def test_qr_parser_raises_only_qrcodeerror(text: str) -> None:
    with contextlib.suppress(QRCodeError):
        parse_qr(text)
