"""The SmartStart provisioning list: nodes the user registered ahead (from their QR code or DSK).

A provisioned node needs no PIN: when its Public Key Report shows a DSK whose bytes 2-15 match an
entry (bytes 0-1 are the PIN the node leaves zero), the entry's DSK completes the key. Kept in
`<data_dir>/zwave-provisioning.json` (0600, written atomically), at most `MAX_ENTRIES` entries.
A provisioned node joins by SmartStart (smartstart.py: it announces itself with the NWI home id its
DSK gives, `nwi_home_id`) or by classic inclusion.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from hub_core.secretfile import write_secret

from .classes import BY_NAME, ORDER, SecurityClass
from .qr import ProvisioningQR

log = logging.getLogger(__name__)
MAX_ENTRIES = 232  # a Z-Wave network's node count
MAX_NAME = 64
MAX_FILE_BYTES = 128 * 1024


@dataclass(frozen=True, slots=True)
class Provisioned:
    """One provisioning entry."""

    dsk: str  # 8 groups of 5 digits
    name: str = ""
    manufacturer_id: int | None = None
    product_id: int | None = None
    #: The classes a SmartStart join may grant (from the QR code: those the node requests); None: any.
    classes: frozenset[SecurityClass] | None = None

    def key_bytes(self) -> bytes:
        """The DSK as 16 bytes."""
        return b"".join(int(group).to_bytes(2, "big") for group in self.dsk.split("-"))

    def home_ids(self) -> tuple[int, int]:
        """(NWI home id, auth home id) of this DSK, as AddNode SmartStart-DSK takes them."""
        return nwi_home_id(self.key_bytes()), auth_home_id(self.key_bytes())

    def to_json(self) -> dict[str, object]:
        """As the LAN API shows it."""
        out: dict[str, object] = {"dsk": self.dsk, "name": self.name}
        if self.manufacturer_id is not None:
            out["manufacturer_id"] = self.manufacturer_id
            out["product_id"] = self.product_id
        if self.classes is not None:
            out["security_classes"] = [c.wire_name for c in ORDER if c in self.classes]
        return out


def nwi_home_id(dsk: bytes) -> int:
    """The home id a SmartStart node announces itself with: DSK bytes 8-11, top two bits set,
    lowest bit cleared (the range no classic network uses)."""
    return (int.from_bytes(dsk[8:12], "big") | 0xC000_0000) & ~1


def auth_home_id(dsk: bytes) -> int:
    """The home id a SmartStart node uses once authenticated: DSK bytes 12-15, top two bits cleared,
    lowest bit set."""
    return (int.from_bytes(dsk[12:16], "big") & 0x3FFF_FFFF) | 1


def parse_dsk(text: str) -> str:
    """A full DSK `12345-...` (8 groups of 5 digits, each at most 65535) in canonical form; ValueError."""
    groups = text.strip().split("-")
    if len(groups) != 8 or not all(
        len(g) == 5 and g.isascii() and g.isdigit() and int(g) <= 0xFFFF for g in groups
    ):
        raise ValueError("a DSK is 8 groups of 5 digits (00000-65535) joined by '-'")
    return "-".join(groups)


class ProvisioningList:
    """Provisioned DSKs, mirrored in a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Provisioned] = {}
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_bytes()[:MAX_FILE_BYTES])
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as exc:
            log.error("zwave: cannot read %s (%s); the provisioning list starts empty", path, exc)
            return
        for item in doc if isinstance(doc, list) else []:
            try:
                classes = item.get("security_classes")
                entry = Provisioned(
                    parse_dsk(str(item["dsk"])),
                    str(item.get("name", ""))[:MAX_NAME],
                    item.get("manufacturer_id"),
                    item.get("product_id"),
                    frozenset(BY_NAME[str(c)] for c in classes[:8]) if isinstance(classes, list) else None,
                )
            except (KeyError, TypeError, ValueError):
                continue
            self._entries[entry.dsk] = entry

    def entries(self) -> list[Provisioned]:
        """Every entry, in DSK order."""
        return [self._entries[k] for k in sorted(self._entries)]

    def add(self, entry: Provisioned) -> None:
        """Add or replace an entry; ValueError when the list is full."""
        if entry.dsk not in self._entries and len(self._entries) >= MAX_ENTRIES:
            raise ValueError(f"the provisioning list is full ({MAX_ENTRIES} entries)")
        self._entries[entry.dsk] = entry

    def add_qr(self, qr: ProvisioningQR, name: str = "") -> Provisioned:
        """Add the node a QR code describes."""
        entry = Provisioned(qr.dsk, name[:MAX_NAME], qr.manufacturer_id, qr.product_id, qr.requested)
        self.add(entry)
        return entry

    def remove(self, dsk: str) -> bool:
        """Drop an entry; False if there was none."""
        return self._entries.pop(dsk, None) is not None

    def by_nwi_home_id(self, home_id: int) -> Provisioned | None:
        """The entry whose DSK gives this NWI home id (a SmartStart node's inclusion request)."""
        return next((e for e in self._entries.values() if e.home_ids()[0] == home_id), None)

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, public_key: bytes) -> Provisioned | None:
        """The entry whose DSK matches a joining node's public key (its PIN bytes 0-1 ignored)."""
        tail = public_key[2:16]
        return next((e for e in self._entries.values() if e.key_bytes()[2:] == tail), None)

    def save(self) -> None:
        """Write the file atomically (0600); blocking, so run it off the event loop."""
        if self.path is None:
            return
        body = json.dumps([e.to_json() for e in self.entries()], indent=1).encode() + b"\n"
        write_secret(self.path, body)
