"""Simulated Bluetooth air as bleak backends: `SimScanner` and `SimClient` for bleak's `backend=`.

The BLE radio runs unchanged above them (BleakScanner, bleak-retry-connector, BleakClient, bthome-ble);
only the adapter is simulated. `SimAir` holds the peripherals: BTHome advertisers (bytes made by
`bthome_service_data`, encrypted with AES-CCM when given a key) and GATT switches speaking the hub's
switch profile (radios/ble/gatt.py).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from radios.ble.bthome import BTHOME_UUID
from radios.ble.gatt import SWITCH_CONTROL, SWITCH_SERVICE, SWITCH_STATE

#: BTHome v2 object id -> (struct format or "u24", factor) for what the simulator sends
OBJECTS: dict[str, tuple[int, str, float]] = {
    "packet_id": (0x00, "B", 1),
    "battery": (0x01, "B", 1),
    "temperature": (0x02, "h", 0.01),
    "humidity": (0x03, "H", 0.01),
    "illuminance": (0x05, "u24", 0.01),
    "energy": (0x0A, "u24", 0.001),
    "power": (0x0B, "u24", 0.01),
    "contact": (0x11, "B", 1),
    "water": (0x20, "B", 1),
    "motion": (0x21, "B", 1),
    "button": (0x3A, "B", 1),
}


def bthome_service_data(
    values: Iterable[tuple[str, float]], *, key: bytes | None = None, counter: int = 0, mac: str = ""
) -> bytes:
    """BTHome v2 service data for `values` (object name, value in CONTRACT units; binary as 0/1)."""
    payload = bytearray()
    for name, value in sorted(values, key=lambda nv: OBJECTS[nv[0]][0]):
        object_id, fmt, factor = OBJECTS[name]
        raw = round(value / factor)
        payload.append(object_id)
        payload += raw.to_bytes(3, "little") if fmt == "u24" else struct.pack("<" + fmt, raw)
    if key is None:
        return bytes([0x40]) + bytes(payload)
    info = 0x41
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc" + bytes([info]) + counter.to_bytes(4, "little")
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, bytes(payload), None)
    return bytes([info]) + sealed[:-4] + counter.to_bytes(4, "little") + sealed[-4:]


@dataclass(slots=True)
class SimSwitch:
    """A GATT switch on the air: it connects, takes writes and notifies its state."""

    address: str
    name: str
    on: bool = False
    responsive: bool = True  # False: accepts connections but never answers writes (a stuck device)
    connectable: bool = True
    listeners: list[Callable[[bytes], None]] = field(default_factory=list)
    writes: int = 0
    #: set at each write (tests await it)
    written: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, on: bool) -> None:
        """Change state (a write, or someone pressing the device's button) and notify subscribers."""
        self.on = on
        for listener in list(self.listeners):
            listener(bytes([1 if on else 0]))


class SimAir:
    """The air one simulated adapter hears."""

    def __init__(self) -> None:
        self.powered = True
        self.scanners: set[SimScanner] = set()
        self.switches: dict[str, SimSwitch] = {}
        self.clients: set[SimClient] = set()

    def advertise(
        self,
        address: str,
        name: str | None = None,
        *,
        service_data: dict[str, bytes] | None = None,
        service_uuids: list[str] | None = None,
        rssi: int = -60,
    ) -> None:
        """Every running scanner hears this advertisement now (if the adapter is powered)."""
        if not self.powered:
            return
        adv = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data=service_data or {},
            service_uuids=service_uuids or [],
            tx_power=None,
            rssi=rssi,
            platform_data=(),
        )
        for scanner in list(self.scanners):
            scanner.hear(address, name, adv)

    def advertise_bthome(self, address: str, name: str, data: bytes) -> None:
        """A BTHome advertisement."""
        self.advertise(address, name, service_data={BTHOME_UUID: data}, service_uuids=[BTHOME_UUID])

    def add_switch(self, switch: SimSwitch) -> None:
        """Put a GATT switch on the air (it still needs to advertise to be found)."""
        self.switches[switch.address] = switch

    def advertise_switch(self, switch: SimSwitch) -> None:
        """The switch's connectable advertisement naming its service."""
        self.advertise(switch.address, switch.name, service_uuids=[SWITCH_SERVICE])

    def set_powered(self, powered: bool) -> None:
        """Power the adapter off (scans stop, connections drop) or on."""
        self.powered = powered
        if not powered:
            self.scanners.clear()
            for client in list(self.clients):
                client.drop()


class SimScanner(BaseBleakScanner):
    """bleak scanner backend over `SimAir` (pass `air=` to BleakScanner)."""

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str,
        *,
        air: SimAir,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.air = air
        self.scanning_mode = scanning_mode
        self.seen_devices: dict[str, tuple[BLEDevice, AdvertisementData]] = {}

    async def start(self) -> None:
        """Listen to the air."""
        if not self.air.powered:
            raise BleakError("simulated adapter is powered off")
        self.air.scanners.add(self)

    async def stop(self) -> None:
        """Stop listening."""
        self.air.scanners.discard(self)

    def hear(self, address: str, name: str | None, adv: AdvertisementData) -> None:
        """One advertisement reaches this scanner."""
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, name, {"sim": True}, adv)
        self.call_detection_callbacks(device, adv)


class SimClient(BaseBleakClient):
    """bleak client backend over `SimAir` (pass `air=` to BleakClient)."""

    def __init__(self, address_or_ble_device: BLEDevice | str, *, air: SimAir, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=kwargs.get("timeout", 10.0),
        )
        self.air = air
        self._switch: SimSwitch | None = None
        self._listener: Callable[[bytes], None] | None = None

    @property
    def name(self) -> str:
        """The peripheral's name."""
        return self._switch.name if self._switch else self.address

    @property
    def mtu_size(self) -> int:
        """Default ATT MTU."""
        return 23

    @property
    def is_connected(self) -> bool:
        """True while connected."""
        return self._switch is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        """Connect to a switch on the air."""
        switch = self.air.switches.get(self.address)
        if not self.air.powered:
            raise BleakError("simulated adapter is powered off")
        if switch is None or not switch.connectable:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found")
        self._switch = switch
        self.air.clients.add(self)
        services = BleakGATTServiceCollection()
        service = BleakGATTService(None, 1, SWITCH_SERVICE)
        services.add_service(service)
        for handle, uuid, props in ((2, SWITCH_STATE, ["read", "notify"]), (4, SWITCH_CONTROL, ["write"])):
            char = BleakGATTCharacteristic(None, handle, uuid, props, lambda: 20, service)  # type: ignore[arg-type]
            services.add_characteristic(char)
        self.services = services

    async def disconnect(self) -> None:
        """Disconnect."""
        self.drop(notify=False)

    def drop(self, *, notify: bool = True) -> None:
        """The link ends (adapter off, or disconnect)."""
        switch, self._switch = self._switch, None
        self.air.clients.discard(self)
        if switch is not None and self._listener is not None and self._listener in switch.listeners:
            switch.listeners.remove(self._listener)
        self._listener = None
        if switch is not None and notify and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to pair."""

    async def unpair(self) -> None:
        """Nothing to unpair."""

    def _connected(self) -> SimSwitch:
        if self._switch is None:
            raise BleakError("not connected")
        return self._switch

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read the state characteristic."""
        return bytearray([1 if self._connected().on else 0])

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """No descriptors."""
        raise BleakError("no descriptors")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write the control characteristic; the switch notifies its new state a moment later."""
        switch = self._connected()
        if characteristic.uuid != SWITCH_CONTROL or len(data) != 1 or data[0] not in (0, 1):
            raise BleakError("write not permitted")
        switch.writes += 1
        switch.written.set()
        if switch.responsive:
            asyncio.get_running_loop().call_soon(switch.set, data[0] == 1)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """No descriptors."""
        raise BleakError("no descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: Any, **kwargs: Any
    ) -> None:
        """Subscribe to the state characteristic."""
        switch = self._connected()
        self._listener = lambda data: callback(bytearray(data))
        switch.listeners.append(self._listener)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe."""
        switch = self._connected()
        if self._listener is not None and self._listener in switch.listeners:
            switch.listeners.remove(self._listener)


class SimAdapterWatch:
    """The simulated adapter is usable while powered."""

    def __init__(self, air: SimAir) -> None:
        self.air = air
        self.last_problem = ""

    async def probe(self) -> str | None:
        """'sim' while powered, else None."""
        self.last_problem = "" if self.air.powered else "simulated adapter is powered off"
        return "sim" if self.air.powered else None

    async def close(self) -> None:
        """Nothing held."""
