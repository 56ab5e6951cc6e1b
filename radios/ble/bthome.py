"""BTHome v2 advertisements -> CONTRACT section 4 attributes and button events, through bthome-ble.

bthome-ble does the parsing and the AES-CCM decryption. Its per-device parser accumulates values
across packets, so each advertisement gets a fresh parser and this module keeps the two things that
must survive between packets itself: the last packet id (duplicates dropped) and the last accepted
encryption counter (replays refused: a counter must grow; a device whose counter restarts needs its
key set again, which starts the count afresh).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from hub_core.model import Value, check_attribute

if TYPE_CHECKING:
    from habluetooth import BluetoothServiceInfoBleak
    from sensor_state_data import DeviceKey, Event

log = logging.getLogger(__name__)

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
#: bthome-ble skips a repeated packet id only within this many seconds (the BTHome spec's rule).
DUPLICATE_WINDOW = 4.0
#: service data longer than this is not BTHome (an advertisement carries at most 31 bytes)
MAX_SERVICE_DATA = 255

_NUMERIC = {
    "temperature": "temperature",
    "humidity": "humidity",
    "illuminance": "illuminance",
    "battery": "battery",
    "power": "power",
    "energy": "energy",
}
# binary sensor key -> (attribute, value when True, value when False)
_BINARY = {
    "opening": ("contact", "open", "closed"),
    "door": ("contact", "open", "closed"),
    "window": ("contact", "open", "closed"),
    "motion": ("motion", "active", "inactive"),
    "occupancy": ("motion", "active", "inactive"),
    "moisture": ("water", "wet", "dry"),
}
_BUTTON_ACTIONS = {
    "press": "pressed",
    "long_press": "held",
    "hold_press": "held",
    "hold_release": "released",
    "double_press": "double",
}


class Verdict(StrEnum):
    """What became of one advertisement."""

    OK = "ok"
    NOT_BTHOME = "not_bthome"
    DUPLICATE = "duplicate"  # a packet id already seen
    NEEDS_KEY = "needs_key"  # encrypted and no key known
    WRONG_KEY = "wrong_key"  # the key does not decrypt it
    REPLAY = "replay"  # encryption counter not above the last accepted one
    PLAINTEXT_REFUSED = "plaintext_refused"  # a device with a key sent plaintext (downgrade)


@dataclass(frozen=True, slots=True)
class Reading:
    """One advertisement's outcome: the attributes and button presses it carried."""

    verdict: Verdict
    encrypted: bool = False
    attributes: Mapping[str, Value] | None = None
    buttons: tuple[tuple[int, str], ...] = ()
    counter: int | None = None


def is_bthome(service_data: Mapping[str, bytes]) -> bool:
    """True if the advertisement carries BTHome v2 service data."""
    data = service_data.get(BTHOME_UUID)
    return data is not None and 1 <= len(data) <= MAX_SERVICE_DATA and (data[0] >> 5) & 7 == 2


def is_encrypted(service_data: Mapping[str, bytes]) -> bool:
    """True if the BTHome service data says it is encrypted (bit 0 of the device info byte)."""
    data = service_data.get(BTHOME_UUID, b"")
    return bool(data) and bool(data[0] & 1)


class BTHomeDevice:
    """What we remember about one BTHome device between its advertisements."""

    __slots__ = ("_last_counter", "_last_packet", "address", "bindkey")

    def __init__(self, address: str, bindkey: bytes | None = None) -> None:
        self.address = address
        self.bindkey = bindkey
        self._last_packet: tuple[int, float] | None = None  # (packet id, monotonic time)
        self._last_counter: int | None = None

    def set_key(self, bindkey: bytes | None) -> None:
        """Use `bindkey` from now on; the replay counter starts afresh."""
        self.bindkey = bindkey
        self._last_counter = None

    def decode(self, service_data: Mapping[str, bytes], *, now: float | None = None) -> Reading:
        """Parse one advertisement's service data; never raises on bad bytes."""
        if not is_bthome(service_data):
            return Reading(Verdict.NOT_BTHOME)
        data = service_data[BTHOME_UUID]
        encrypted = bool(data[0] & 1)
        counter: int | None = None
        if encrypted:
            if self.bindkey is None:
                return Reading(Verdict.NEEDS_KEY, encrypted=True)
            if len(data) < 1 + 8 + 1:
                return Reading(Verdict.NOT_BTHOME, encrypted=True)
            counter = int.from_bytes(data[-8:-4], "little")
            if self._last_counter is not None and counter <= self._last_counter:
                return Reading(Verdict.REPLAY, encrypted=True, counter=counter)
        # bthome-ble and its dependencies (habluetooth, bluetooth-adapters: ~11 MB) load with the
        # first BTHome advertisement, not with the radio: a hub without BTHome devices never pays
        from bthome_ble import BTHomeBluetoothDeviceData
        from bthome_ble.parser import EncryptionScheme

        parser = BTHomeBluetoothDeviceData(self.bindkey)
        try:
            update = parser.update(_service_info(self.address, {BTHOME_UUID: data}))
        except Exception:  # bthome-ble is robust, but the bytes come from the air: never let it escape
            log.debug("BTHome %s: unparseable advertisement %s", self.address, data.hex(), exc_info=True)
            return Reading(Verdict.NOT_BTHOME, encrypted=encrypted)
        if parser.downgrade_detected:
            return Reading(Verdict.PLAINTEXT_REFUSED)
        if encrypted and (
            parser.encryption_scheme != EncryptionScheme.BTHOME_BINDKEY or not parser.bindkey_verified
        ):
            return Reading(Verdict.WRONG_KEY, encrypted=True, counter=counter)
        values = {k.key: v.native_value for k, v in update.entity_values.items()}
        binaries = {k.key: v.native_value for k, v in update.binary_entity_values.items()}
        packet = values.get("packet_id")
        when = time.monotonic() if now is None else now
        if isinstance(packet, int | float) and self._duplicate(int(packet), when):
            return Reading(Verdict.DUPLICATE, encrypted=encrypted)
        if counter is not None:
            self._last_counter = counter
        return Reading(
            Verdict.OK,
            encrypted=encrypted,
            attributes=_attributes(values, binaries),
            buttons=_buttons(update.events),
            counter=counter,
        )

    def _duplicate(self, packet: int, now: float) -> bool:
        last = self._last_packet
        self._last_packet = (packet, now)
        if last is None or now - last[1] > DUPLICATE_WINDOW:
            return False
        # newer means 1..63 ahead modulo 256 (the id wraps); the same or an older id is a repeat
        if 0 < (packet - last[0]) % 256 < 64:
            return False
        self._last_packet = last
        return True


def _service_info(address: str, service_data: dict[str, bytes]) -> BluetoothServiceInfoBleak:
    from bleak.backends.device import BLEDevice
    from habluetooth import BluetoothServiceInfoBleak

    device = BLEDevice(address, None, {})
    return BluetoothServiceInfoBleak(
        name=address,
        address=address,
        rssi=-127,
        manufacturer_data={},
        service_data=service_data,
        service_uuids=[BTHOME_UUID],
        source="hub",
        device=device,
        advertisement=None,
        connectable=False,
        time=time.monotonic(),
        tx_power=None,
    )


def _attributes(values: Mapping[str, object], binaries: Mapping[str, object]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for key, raw in values.items():
        attribute = _NUMERIC.get(key)
        if attribute is None or not isinstance(raw, int | float):
            continue
        try:
            out[attribute] = check_attribute(attribute, round(raw) if attribute == "battery" else raw)
        except ValueError:
            log.debug("BTHome %s=%r out of range; dropped", key, raw)
    for key, raw in binaries.items():
        mapping = _BINARY.get(key)
        if mapping is not None and isinstance(raw, bool):
            out[mapping[0]] = mapping[1] if raw else mapping[2]
    return out


def _buttons(events: Mapping[DeviceKey, Event]) -> tuple[tuple[int, str], ...]:
    out: list[tuple[int, str]] = []
    for key, event in events.items():
        if not key.key.startswith("button"):
            continue
        number = key.key.partition("_")[2]
        action = _BUTTON_ACTIONS.get(event.event_type)
        if action is not None:
            out.append((int(number) if number.isdigit() else 1, action))
    return tuple(sorted(out))
