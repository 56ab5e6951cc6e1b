"""BTHome bindkeys, kept by the BLE radio in one owner-only JSON file in its data directory.

Light on purpose (no bleak import): the LAN API imports `BindkeyTarget` to reach the radio.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from hub_core import secretfile
from hub_core.model import DeviceId

log = logging.getLogger(__name__)

KEY_FILE = "ble-keys.json"
#: a hub serves far fewer BLE devices than this; a larger file is refused as damaged
MAX_KEYS = 1024
_KEY_HEX = re.compile(r"[0-9a-fA-F]{32}")


class WrongKey(ValueError):
    """The key does not decrypt the device's advertisements."""


def parse_key(text: object) -> bytes:
    """32 hex digits -> 16 bytes; ValueError naming the problem otherwise."""
    if not isinstance(text, str) or not _KEY_HEX.fullmatch(text):
        raise ValueError("key must be 32 hexadecimal digits (the BTHome bindkey)")
    return bytes.fromhex(text)


@runtime_checkable
class BindkeyTarget(Protocol):
    """A radio that takes BTHome bindkeys (the BLE radio)."""

    async def set_bindkey(self, device: DeviceId, key: bytes) -> None:
        """Check `key` against `device`'s last advertisement, store it and use it.

        Raises UnknownDevice, InvalidCommand (not an encrypted BTHome device) or WrongKey.
        """


class KeyStore:
    """device id -> bindkey, persisted (mode 0600, written atomically) in `data_dir/ble-keys.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / KEY_FILE
        self._keys: dict[DeviceId, bytes] = {}

    def load(self) -> None:
        """Read the file; a damaged file is logged and ignored (keys can be set again)."""
        try:
            raw = json.loads(self.path.read_text())
            if not isinstance(raw, dict) or len(raw) > MAX_KEYS:
                raise ValueError(f"not an object of at most {MAX_KEYS} keys")
            self._keys = {DeviceId(str(k)): parse_key(v) for k, v in raw.items()}
        except FileNotFoundError:
            self._keys = {}
        except (OSError, ValueError) as exc:
            log.warning(
                "BLE key file %s unreadable (%s); encrypted devices need their keys again", self.path, exc
            )
            self._keys = {}

    def get(self, device: DeviceId) -> bytes | None:
        """The device's bindkey, or None."""
        return self._keys.get(device)

    def put(self, device: DeviceId, key: bytes) -> None:
        """Store `device`'s key (replacing any) and write the file."""
        if device not in self._keys and len(self._keys) >= MAX_KEYS:
            raise ValueError(f"at most {MAX_KEYS} BLE keys can be stored")
        self._keys[device] = key
        self._write()

    def drop(self, device: DeviceId) -> None:
        """Forget `device`'s key."""
        if self._keys.pop(device, None) is not None:
            self._write()

    def _write(self) -> None:
        # A random temp name, 0600 before the first byte, fsync, rename, fsync of the folder: a planted
        # file or symlink cannot redirect or expose the keys (hub_core.secretfile).
        data = json.dumps({k: v.hex() for k, v in sorted(self._keys.items())})
        secretfile.write_secret(self.path, data.encode("ascii"))
