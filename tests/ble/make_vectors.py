"""Generate the BTHome v2 byte vectors the BLE tests decode (output: tests/ble/vectors.json).

Run `python tests/ble/make_vectors.py` to rebuild; the output is committed. Plain packets are built
from the BTHome v2 object table; encrypted ones with AES-CCM (4-byte tag, nonce = MAC, UUID 0xFCD2,
device info byte, counter) through `cryptography`, independently of the parser under test.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

OUT = Path(__file__).with_name("vectors.json")
MAC = "A4:C1:38:0B:5E:01"
KEY = "231d39c1d7cc1ab1aee224cd096db932"
OTHER_KEY = "00112233445566778899aabbccddeeff"
PLAIN_INFO = 0x40  # version 2, not encrypted, regular interval
ENCRYPTED_INFO = 0x41  # version 2, encrypted


def obj(object_id: int, fmt: str, value: int) -> bytes:
    """One BTHome object: id byte then little-endian value (fmt as struct, or 'u24')."""
    if fmt == "u24":
        return bytes([object_id]) + value.to_bytes(3, "little")
    return bytes([object_id]) + struct.pack("<" + fmt, value)


def plain(payload: bytes) -> str:
    return (bytes([PLAIN_INFO]) + payload).hex()


def encrypted(payload: bytes, counter: int, key: str = KEY, mac: str = MAC) -> str:
    nonce = (
        bytes.fromhex(mac.replace(":", ""))
        + b"\xd2\xfc"
        + bytes([ENCRYPTED_INFO])
        + counter.to_bytes(4, "little")
    )
    sealed = AESCCM(bytes.fromhex(key), tag_length=4).encrypt(nonce, payload, None)
    ciphertext, mic = sealed[:-4], sealed[-4:]
    return (bytes([ENCRYPTED_INFO]) + ciphertext + counter.to_bytes(4, "little") + mic).hex()


def main() -> None:
    climate = obj(0x00, "B", 7) + obj(0x01, "B", 93) + obj(0x02, "h", 2306) + obj(0x03, "H", 5055)
    vectors = {
        "mac": MAC,
        "key": KEY,
        "other_key": OTHER_KEY,
        "plain": [
            {
                "name": "climate",
                "data": plain(climate),
                "attributes": {"battery": 93, "temperature": 23.06, "humidity": 50.55},
            },
            {
                "name": "negative temperature and illuminance",
                "data": plain(obj(0x00, "B", 8) + obj(0x02, "h", -1250) + obj(0x05, "u24", 123456)),
                "attributes": {"temperature": -12.5, "illuminance": 1234.56},
            },
            {
                "name": "power and energy",
                "data": plain(obj(0x00, "B", 9) + obj(0x0A, "u24", 12345) + obj(0x0B, "u24", 4250)),
                "attributes": {"energy": 12.345, "power": 42.5},
            },
            {
                "name": "contact open, motion, dry",
                "data": plain(obj(0x00, "B", 10) + obj(0x11, "B", 1) + obj(0x20, "B", 0) + obj(0x21, "B", 1)),
                "attributes": {"contact": "open", "water": "dry", "motion": "active"},
            },
            {
                "name": "window closed, wet, no motion",
                "data": plain(obj(0x00, "B", 11) + obj(0x20, "B", 1) + obj(0x21, "B", 0) + obj(0x2D, "B", 0)),
                "attributes": {"contact": "closed", "water": "wet", "motion": "inactive"},
            },
            {
                "name": "two buttons",
                "data": plain(obj(0x00, "B", 12) + obj(0x3A, "B", 1) + obj(0x3A, "B", 4)),
                "attributes": {},
                "buttons": [[1, "pressed"], [2, "held"]],
            },
            {
                "name": "one button, double press",
                "data": plain(obj(0x00, "B", 13) + obj(0x3A, "B", 2)),
                "attributes": {},
                "buttons": [[1, "double"]],
            },
        ],
        "encrypted": [
            {
                "name": "climate, counter 1",
                "counter": 1,
                "data": encrypted(obj(0x02, "h", 2150) + obj(0x03, "H", 4000), 1),
                "attributes": {"temperature": 21.5, "humidity": 40.0},
            },
            {
                "name": "climate, counter 2",
                "counter": 2,
                "data": encrypted(obj(0x01, "B", 80) + obj(0x02, "h", 2200), 2),
                "attributes": {"temperature": 22.0, "battery": 80},
            },
            {
                "name": "contact, counter 1000",
                "counter": 1000,
                "data": encrypted(obj(0x1A, "B", 1), 1000),
                "attributes": {"contact": "open"},
            },
        ],
        "wrong_key": encrypted(obj(0x02, "h", 2150), 5, key=OTHER_KEY),
    }
    OUT.write_text(json.dumps(vectors, indent=2) + "\n")


if __name__ == "__main__":
    main()
