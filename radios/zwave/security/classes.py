"""Security classes, their wire bitmask, their names in config and device JSON, and the DSK.

Rules of this file: data and pure helpers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from .errors import MalformedFrame


class SecurityClass(IntEnum):
    """A Z-Wave security class; the value is its bit in the KEX "keys" bitmask (SDS13783)."""

    S2_UNAUTHENTICATED = 0
    S2_AUTHENTICATED = 1
    S2_ACCESS_CONTROL = 2
    S0_LEGACY = 7

    @property
    def wire_name(self) -> str:
        """The name used in the keys file and the device JSON (`S2_AccessControl`, ...)."""
        return _NAMES[self]

    @property
    def is_s2(self) -> bool:
        """True for the three S2 classes."""
        return self is not SecurityClass.S0_LEGACY


_NAMES = {
    SecurityClass.S2_ACCESS_CONTROL: "S2_AccessControl",
    SecurityClass.S2_AUTHENTICATED: "S2_Authenticated",
    SecurityClass.S2_UNAUTHENTICATED: "S2_Unauthenticated",
    SecurityClass.S0_LEGACY: "S0_Legacy",
}
BY_NAME = {name: cls for cls, name in _NAMES.items()}

# Highest first: a secure node is always addressed at the first of these it was granted.
ORDER = (
    SecurityClass.S2_ACCESS_CONTROL,
    SecurityClass.S2_AUTHENTICATED,
    SecurityClass.S2_UNAUTHENTICATED,
    SecurityClass.S0_LEGACY,
)
S2_ORDER = ORDER[:3]
NEEDS_PIN = frozenset({SecurityClass.S2_ACCESS_CONTROL, SecurityClass.S2_AUTHENTICATED})


def highest(granted: Iterable[SecurityClass]) -> SecurityClass | None:
    """The highest class in `granted`, or None when it is empty."""
    have = set(granted)
    return next((cls for cls in ORDER if cls in have), None)


def keys_to_mask(classes: Iterable[SecurityClass]) -> int:
    """The one-byte KEX keys bitmask."""
    mask = 0
    for cls in classes:
        mask |= 1 << cls
    return mask


def mask_to_keys(mask: int) -> frozenset[SecurityClass]:
    """The classes named in a KEX keys bitmask; unknown bits are ignored (forward compatible)."""
    return frozenset(cls for cls in SecurityClass if mask & (1 << cls))


def one_key(mask: int) -> SecurityClass:
    """The single class a Network Key Get/Report names; MalformedFrame unless exactly one known bit is set."""
    keys = mask_to_keys(mask)
    if len(keys) != 1 or mask & ~keys_to_mask(keys):
        raise MalformedFrame(f"expected exactly one security class bit, got 0x{mask:02x}")
    return next(iter(keys))


def dsk_string(dsk: bytes) -> str:
    """The DSK as printed on the device: eight 5-digit groups of its 16-bit big-endian words."""
    if len(dsk) != 16:
        raise ValueError("a DSK is 16 bytes")
    return "-".join(f"{int.from_bytes(dsk[i : i + 2], 'big'):05d}" for i in range(0, 16, 2))


def dsk_hidden(dsk: bytes) -> str:
    """The DSK with its first group (the PIN the user must type) masked: `xxxxx-12345-...`."""
    return "xxxxx" + dsk_string(dsk)[5:]


def parse_pin(pin: str) -> int:
    """A 5-digit DSK PIN (00000-65535) as the 16-bit value it stands for; ValueError naming the problem."""
    if len(pin) != 5 or not pin.isascii() or not pin.isdigit():
        raise ValueError("the PIN must be exactly 5 digits")
    value = int(pin)
    if value > 0xFFFF:
        raise ValueError("the PIN must be at most 65535")
    return value
