"""Z-Wave S2 / SmartStart QR code strings (Z-Wave Alliance "Node Provisioning QR Code Format"), parsed.

Rules of this file: pure; only `QRCodeError` (a ValueError) escapes. The string is all decimal digits
(whitespace is ignored): "90", version (2: 00 S2, 01 SmartStart), checksum (5: the first 16 bits of
SHA-1 over everything after it), requested keys (3: the KEX bitmask), the DSK (8 x 5 digits), then
TLV blocks: type*2+critical (2), length (2), value. ProductType and ProductId are required; other
known blocks are read, unknown ones skipped unless critical. At most `MAX_LENGTH` characters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .classes import SecurityClass, dsk_string, mask_to_keys

MAX_LENGTH = 4096
MIN_LENGTH = 52  # lead-in, version, checksum, keys, DSK


class QRCodeError(ValueError):
    """The string is not a valid Z-Wave provisioning QR code; the message says why."""


@dataclass(frozen=True, slots=True)
class ProvisioningQR:
    """What a QR code says about a node."""

    version: int  # 0 S2, 1 SmartStart
    requested: frozenset[SecurityClass]
    dsk: str  # 8 groups of 5 digits
    generic_device_class: int
    specific_device_class: int
    installer_icon: int
    manufacturer_id: int
    product_type: int
    product_id: int
    application_version: str
    max_inclusion_request_interval: int | None = None  # seconds
    uuid16: str | None = None  # hex, presentation format 0 only
    supported_protocols: tuple[str, ...] | None = None


def _num(text: str, at: int, digits: int, limit: int) -> int:
    value = int(text[at : at + digits])
    if value > limit:
        raise QRCodeError(f"value {value} at position {at} exceeds {limit}")
    return value


def parse_qr(text: str) -> ProvisioningQR:
    """The provisioning data of a QR code string; QRCodeError naming the problem."""
    qr = "".join(text.split())
    if len(qr) > MAX_LENGTH:
        raise QRCodeError(f"longer than {MAX_LENGTH} characters")
    if not qr.startswith("90"):
        raise QRCodeError("must start with 90")
    if len(qr) < MIN_LENGTH:
        raise QRCodeError(f"too short ({len(qr)} digits, at least {MIN_LENGTH})")
    if not qr.isascii() or not qr.isdigit():
        raise QRCodeError("contains characters other than digits")
    version = _num(qr, 2, 2, 99)
    if version > 1:
        raise QRCodeError(f"unknown version {version}")
    checksum = _num(qr, 4, 5, 0xFFFF)
    if int.from_bytes(hashlib.sha1(qr[9:].encode(), usedforsecurity=False).digest()[:2], "big") != checksum:
        raise QRCodeError("invalid checksum")
    keys_mask = _num(qr, 9, 3, 0xFF)
    requested = mask_to_keys(keys_mask)
    dsk = b"".join(_num(qr, 12 + 5 * i, 5, 0xFFFF).to_bytes(2, "big") for i in range(8))
    fields: dict[str, object] = {}
    offset = 52
    while offset < len(qr):
        if len(qr) - offset < 4:
            raise QRCodeError("incomplete TLV block")
        type_critical = _num(qr, offset, 2, 99)
        length = _num(qr, offset + 2, 2, 99)
        value = qr[offset + 4 : offset + 4 + length]
        if len(value) < length:
            raise QRCodeError("incomplete TLV block")
        offset += 4 + length
        if not _tlv(type_critical >> 1, value, fields) and type_critical & 1:
            raise QRCodeError(f"unsupported critical block type {type_critical >> 1}")
    if "manufacturer_id" not in fields or "generic_device_class" not in fields:
        raise QRCodeError("missing the ProductType or ProductId block")
    return ProvisioningQR(version=version, requested=requested, dsk=dsk_string(dsk), **fields)  # type: ignore[arg-type]


def _tlv(kind: int, value: str, out: dict[str, object]) -> bool:
    try:
        if kind == 0 and len(value) >= 10:  # ProductType
            classes = _num(value, 0, 5, 0xFFFF)
            out.update(generic_device_class=classes >> 8, specific_device_class=classes & 0xFF)
            out["installer_icon"] = _num(value, 5, 5, 0xFFFF)
        elif kind == 1 and len(value) >= 20:  # ProductId
            out["manufacturer_id"] = _num(value, 0, 5, 0xFFFF)
            out["product_type"] = _num(value, 5, 5, 0xFFFF)
            out["product_id"] = _num(value, 10, 5, 0xFFFF)
            app = _num(value, 15, 5, 0xFFFF)
            out["application_version"] = f"{app >> 8}.{app & 0xFF}"
        elif kind == 2 and len(value) >= 2:  # MaxInclusionRequestInterval, in units of 128 s
            out["max_inclusion_request_interval"] = 128 * _num(value, 0, 2, 99)
        elif kind == 3 and len(value) >= 42 and value[:2] == "00":  # UUID16, presentation format 0
            out["uuid16"] = b"".join(
                _num(value, 2 + 5 * i, 5, 0xFFFF).to_bytes(2, "big") for i in range(8)
            ).hex()
        elif kind == 4 and len(value) in (2, 3, 5):  # SupportedProtocols
            mask = _num(value, 0, len(value), 0xFFFF)
            out["supported_protocols"] = tuple(
                name for bit, name in ((0, "Z-Wave"), (1, "Z-Wave Long Range")) if mask & (1 << bit)
            )
        else:
            return False
    except ValueError as exc:
        raise QRCodeError(str(exc)) from None
    return True
