"""The emulated coordinator's non-volatile memory: Z-Stack 3.30's NV items, and the network they hold.

Z-Stack 3.30 keeps items by (system id, item id, sub id). The legacy OSAL items (read and written
with SYS_OSAL_NV_*) are sub ids of the ZSTACK system's LEGACY item, so one store serves both APIs.
The host (zigpy-znp) reads and writes most items as opaque bytes; the emulator itself only
understands the few it acts on: the network information base (NIB), keys, the address manager and
the start-up options. Layouts follow Z-Stack's C structs, packed (the CC26x2 does not pad them).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from enum import IntEnum

SYS_ZSTACK = 0x01
ITEM_LEGACY = 0x0000
#: an NV item may not be larger than this (the biggest real item, the NIB, is 110 bytes)
MAX_ITEM = 1024
#: at most this many items (a real CC2652 has 32 KiB of NV pages)
MAX_ITEMS = 1024


class Osal(IntEnum):
    """Legacy OSAL NV ids the emulator acts on or creates on a blank stick."""

    EXTADDR = 0x0001
    STARTUP_OPTION = 0x0003
    NIB = 0x0021
    EXTENDED_PAN_ID = 0x002D
    BCAST_DELIVERY_TIME = 0x0030
    CONCENTRATOR_ENABLE = 0x0032
    CONCENTRATOR_DISCOVERY = 0x0033
    CONCENTRATOR_RC = 0x0036
    SRC_RTG_EXPIRY_TIME = 0x0038
    NWK_ACTIVE_KEY_INFO = 0x003A
    NWK_ALTERN_KEY_INFO = 0x003B
    NWK_CHILD_AGE_ENABLE = 0x003E
    APS_USE_EXT_PANID = 0x0047
    APS_LINK_KEY_TABLE = 0x004C
    BDB_NODE_IS_ON_A_NETWORK = 0x0055
    PRECFGKEY = 0x0062
    PRECFGKEYS_ENABLE = 0x0063
    PANID = 0x0083
    CHANLIST = 0x0084
    LOGICAL_TYPE = 0x0087
    ZDO_DIRECT_CB = 0x008F
    TCLK_SEED = 0x0101


class ExItem(IntEnum):
    """Z-Stack 3.30 extended NV tables (system ZSTACK), one sub id per row."""

    ADDRMGR = 0x0001
    TCLK_TABLE = 0x0004
    APS_KEY_DATA_TABLE = 0x0006
    NWK_SEC_MATERIAL_TABLE = 0x0007


class StartupOption(IntEnum):
    """Bits of the STARTUP_OPTION item, acted on at the next reset."""

    CLEAR_CONFIG = 0x01
    CLEAR_STATE = 0x02


#: rows per table and row size on a blank stick (address manager rows: type, NWK, IEEE)
TABLES: dict[ExItem, tuple[int, int]] = {
    ExItem.ADDRMGR: (64, 11),
    ExItem.TCLK_TABLE: (16, 19),
    ExItem.APS_KEY_DATA_TABLE: (16, 24),
    ExItem.NWK_SEC_MATERIAL_TABLE: (4, 12),
}
EMPTY_ADDRMGR_ROW = b"\xff" + b"\xff\xff" + b"\xff" * 8
ADDRMGR_ASSOC_SECURITY = 0x03

# The NIB (nwkIB_t), packed: offsets of the fields the emulator reads or writes.
NIB_SIZE = 110
NIB_SECURITY_LEVEL = 12
NIB_DEV_ADDRESS = 20
NIB_CHANNEL = 22
NIB_PAN_ID = 33
NIB_STATE = 35
NIB_CHANNEL_LIST = 36
NIB_EXTENDED_PAN_ID = 53
NIB_KEY_LOADED = 61
NIB_MANAGER_ADDR = 105
NIB_UPDATE_ID = 109
NWK_STATE_ROUTER = 8  # Z-Stack's NWK_ROUTER: the coordinator runs its network


class NvError(Exception):
    """An NV operation Z-Stack would refuse; `status` is the MT status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


STATUS_SUCCESS = 0x00
STATUS_FAILURE = 0x01
STATUS_INVALID_PARAMETER = 0x02
STATUS_NV_ITEM_UNINIT = 0x09
STATUS_NV_OPER_FAILED = 0x0A
STATUS_NV_BAD_ITEM_LEN = 0x0C


Key = tuple[int, int, int]


def osal_key(nv_id: int) -> Key:
    """The 3.30 key of a legacy OSAL item."""
    return (SYS_ZSTACK, ITEM_LEGACY, nv_id)


@dataclass(frozen=True, slots=True)
class Network:
    """What the coordinator's NV says about the network it runs."""

    channel: int
    pan_id: int
    extended_pan_id: bytes
    network_key: bytes

    @property
    def identity(self) -> str:
        """The network as devices know it: extended PAN id and key (hex)."""
        return self.extended_pan_id.hex() + ":" + self.network_key.hex()


class NvStore:
    """Items by (system, item, sub id); bounded in item size and count."""

    def __init__(self, items: dict[Key, bytes] | None = None) -> None:
        self.items: dict[Key, bytearray] = {k: bytearray(v) for k, v in (items or {}).items()}

    # --- the MT operations ------------------------------------------------------------------------

    def length(self, key: Key) -> int:
        """The item's length; 0 when it does not exist."""
        item = self.items.get(key)
        return len(item) if item is not None else 0

    def create(self, key: Key, length: int, initial: bytes = b"") -> bool:
        """Create an item of `length` bytes; False if it already existed (left as it is)."""
        if key in self.items:
            return False
        if not 0 < length <= MAX_ITEM:
            raise NvError(STATUS_NV_BAD_ITEM_LEN, f"NV item length {length} is not within 1..{MAX_ITEM}")
        if len(self.items) >= MAX_ITEMS:
            raise NvError(STATUS_NV_OPER_FAILED, f"NV is full ({MAX_ITEMS} items)")
        self.items[key] = bytearray(initial[:length].ljust(length, b"\x00"))
        return True

    def read(self, key: Key, offset: int, size: int | None = None) -> bytes:
        """Bytes from `offset` (up to `size`, at most 244 for one MT frame)."""
        item = self.items.get(key)
        if item is None:
            raise NvError(STATUS_INVALID_PARAMETER, f"NV item {key} does not exist")
        if offset > len(item):
            raise NvError(STATUS_INVALID_PARAMETER, f"offset {offset} is past NV item {key}")
        end = len(item) if size is None else min(len(item), offset + size)
        return bytes(item[offset : min(end, offset + 244)])

    def write(self, key: Key, offset: int, value: bytes) -> None:
        """Overwrite bytes at `offset`; the item keeps its length."""
        item = self.items.get(key)
        if item is None:
            raise NvError(STATUS_NV_ITEM_UNINIT, f"NV item {key} does not exist")
        if offset + len(value) > len(item):
            raise NvError(STATUS_NV_BAD_ITEM_LEN, f"write past the end of NV item {key}")
        item[offset : offset + len(value)] = value

    def delete(self, key: Key) -> bool:
        """Delete an item; False if it did not exist."""
        return self.items.pop(key, None) is not None

    # --- typed access for the emulator ------------------------------------------------------------

    def get(self, nv_id: int) -> bytes | None:
        """A whole OSAL item, or None."""
        item = self.items.get(osal_key(nv_id))
        return bytes(item) if item is not None else None

    def put(self, nv_id: int, value: bytes) -> None:
        """Set a whole OSAL item (created or resized as needed)."""
        self.items[osal_key(nv_id)] = bytearray(value)

    def on_network(self) -> bool:
        """True once a network was formed or written (bdbNodeIsOnANetwork)."""
        return self.get(Osal.BDB_NODE_IS_ON_A_NETWORK) == b"\x01"

    def network(self) -> Network | None:
        """The network the NIB and key items describe, or None if incomplete."""
        nib = self.get(Osal.NIB)
        key = self.get(Osal.NWK_ACTIVE_KEY_INFO)
        if nib is None or len(nib) < NIB_SIZE or key is None or len(key) < 17 or not nib[NIB_CHANNEL]:
            return None
        (pan_id,) = struct.unpack_from("<H", nib, NIB_PAN_ID)
        extended = nib[NIB_EXTENDED_PAN_ID : NIB_EXTENDED_PAN_ID + 8]
        return Network(nib[NIB_CHANNEL], pan_id, bytes(extended), bytes(key[1:17]))

    def table_rows(self, item: ExItem) -> list[tuple[int, bytes]]:
        """(sub id, row) of a 3.30 table, in order."""
        return sorted(
            (sub, bytes(v)) for (sys, it, sub), v in self.items.items() if sys == SYS_ZSTACK and it == item
        )

    def set_row(self, item: ExItem, sub: int, row: bytes) -> None:
        """Set one table row."""
        self.items[(SYS_ZSTACK, int(item), sub)] = bytearray(row)

    # --- persistence --------------------------------------------------------------------------------

    def to_json(self) -> dict[str, str]:
        """`"sys:item:sub"` (hex) -> value (hex)."""
        return {f"{s:02x}:{i:04x}:{u:04x}": bytes(v).hex() for (s, i, u), v in sorted(self.items.items())}

    @classmethod
    def from_json(cls, data: object) -> NvStore:
        """The inverse of `to_json`; ValueError naming the bad entry."""
        if not isinstance(data, dict):
            raise ValueError("nv must be an object")
        items: dict[Key, bytes] = {}
        for name, value in data.items():
            parts = str(name).split(":")
            if len(parts) != 3 or not isinstance(value, str):
                raise ValueError(f"bad NV entry {name!r}")
            sys_id, item, sub = (int(p, 16) for p in parts)
            raw = bytes.fromhex(value)
            if not raw or len(raw) > MAX_ITEM:
                raise ValueError(f"NV entry {name!r} has {len(raw)} bytes")
            items[(sys_id, item, sub)] = raw
        if len(items) > MAX_ITEMS:
            raise ValueError(f"more than {MAX_ITEMS} NV entries")
        return cls(items)


def blank(hardware_ieee: bytes) -> NvStore:
    """The NV of a freshly flashed Z-Stack 3.30 coordinator: configuration, no network."""
    nv = NvStore()
    defaults = {
        Osal.EXTADDR: hardware_ieee,
        Osal.STARTUP_OPTION: b"\x00",
        Osal.LOGICAL_TYPE: b"\x00",
        Osal.PANID: b"\xff\xff",
        Osal.CHANLIST: struct.pack("<I", 0x07FFF800),
        Osal.PRECFGKEY: os.urandom(16),
        Osal.PRECFGKEYS_ENABLE: b"\x00",
        Osal.APS_USE_EXT_PANID: bytes(8),
        Osal.EXTENDED_PAN_ID: bytes(8),
        Osal.BCAST_DELIVERY_TIME: b"\x1e",
        Osal.CONCENTRATOR_ENABLE: b"\x00",
        Osal.CONCENTRATOR_DISCOVERY: b"\x78",
        Osal.CONCENTRATOR_RC: b"\x00",
        Osal.SRC_RTG_EXPIRY_TIME: b"\xff",
        Osal.NWK_CHILD_AGE_ENABLE: b"\x01",
        Osal.ZDO_DIRECT_CB: b"\x00",
        # A uint16 entry count, then 16 rows of 5 bytes: room for 16 unhashed link keys.
        Osal.APS_LINK_KEY_TABLE: bytes(2 + 16 * 5),
        Osal.NIB: blank_nib(),
    }
    for nv_id, value in defaults.items():
        nv.put(nv_id, value)
    for item, (rows, size) in TABLES.items():
        for sub in range(rows):
            nv.set_row(item, sub, EMPTY_ADDRMGR_ROW if item is ExItem.ADDRMGR else bytes(size))
    return nv


def blank_nib() -> bytes:
    """A NIB with no network (channel 0, PAN 0xFFFE)."""
    nib = bytearray(NIB_SIZE)
    nib[NIB_SECURITY_LEVEL] = 5
    struct.pack_into("<H", nib, NIB_DEV_ADDRESS, 0xFFFE)
    struct.pack_into("<H", nib, NIB_PAN_ID, 0xFFFE)
    return bytes(nib)


def formed_nib(network: Network, channel_mask: int) -> bytes:
    """The NIB Z-Stack writes once it formed `network` as its coordinator (NWK address 0)."""
    nib = bytearray(blank_nib())
    struct.pack_into("<H", nib, NIB_DEV_ADDRESS, 0x0000)
    nib[NIB_CHANNEL] = network.channel
    struct.pack_into("<H", nib, NIB_PAN_ID, network.pan_id)
    nib[NIB_STATE] = NWK_STATE_ROUTER
    struct.pack_into("<I", nib, NIB_CHANNEL_LIST, channel_mask)
    nib[NIB_EXTENDED_PAN_ID : NIB_EXTENDED_PAN_ID + 8] = network.extended_pan_id
    nib[NIB_KEY_LOADED] = 1
    struct.pack_into("<H", nib, NIB_MANAGER_ADDR, 0x0000)
    nib[NIB_UPDATE_ID] = 0
    return bytes(nib)


def store_network(nv: NvStore, network: Network, channel_mask: int) -> None:
    """Write the items a formation leaves behind: NIB, keys, frame counter row, on-a-network flag."""
    nv.put(Osal.NIB, formed_nib(network, channel_mask))
    key_info = b"\x00" + network.network_key
    nv.put(Osal.NWK_ACTIVE_KEY_INFO, key_info)
    nv.put(Osal.NWK_ALTERN_KEY_INFO, key_info)
    nv.put(Osal.EXTENDED_PAN_ID, network.extended_pan_id)
    nv.put(Osal.APS_USE_EXT_PANID, network.extended_pan_id)
    nv.put(Osal.BDB_NODE_IS_ON_A_NETWORK, b"\x01")
    if nv.get(Osal.TCLK_SEED) is None:
        nv.put(Osal.TCLK_SEED, os.urandom(16))
    nv.set_row(ExItem.NWK_SEC_MATERIAL_TABLE, 0, struct.pack("<I", 0) + network.extended_pan_id)


def remember_device(nv: NvStore, nwk: int, ieee: bytes) -> None:
    """Record a joined device in the address manager (as Z-Stack does when it authorises one)."""
    rows = nv.table_rows(ExItem.ADDRMGR)
    row = bytes([ADDRMGR_ASSOC_SECURITY]) + struct.pack("<H", nwk) + ieee
    for sub, existing in rows:
        if existing[3:11] == ieee:
            nv.set_row(ExItem.ADDRMGR, sub, row)
            return
    for sub, existing in rows:
        if existing == EMPTY_ADDRMGR_ROW:
            nv.set_row(ExItem.ADDRMGR, sub, row)
            return
    # Full: a real stick refuses the join; the emulator keeps it working and just does not record it.
