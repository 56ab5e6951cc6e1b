"""The Bluetooth LE radio: BTHome sensors heard by a BleakScanner, GATT switches reached by BleakClient.

Scanning is passive where BlueZ offers advertisement monitors (an or-pattern per kind of device we
serve), active otherwise. Advertisements are decoded by `radios.ble.bthome`; encrypted devices need
their bindkey (`set_bindkey`, kept in `ble-keys.json` in the radio's data directory).

Adapter loss (removed, powered off, BlueZ restarted) is noticed by probing the adapter every
`poll_interval` seconds; scanning restarts within one probe of its return. Meanwhile the radio is
RECOVERING and commands raise RadioUnavailable.

Limits: at most MAX_DEVICES devices; advertisements from unknown devices outside an inclusion window
are only counted (`ignored`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from hub_core import ratelog
from hub_core.errors import DeliveryFailed, DeliveryTimeout, InvalidCommand, RadioUnavailable, UnknownDevice
from hub_core.model import (
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    DeviceOnline,
    DeviceRemoved,
    Protocol,
    StateChanged,
    ble_device_id,
)
from hub_core.tasks import TaskGroup
from radios.base import Radio, RadioContext, RadioState
from radios.ble.adapter import AdapterWatch, BlueZAdapterWatch
from radios.ble.bthome import BTHOME_UUID, BTHomeDevice, Reading, Verdict, is_bthome, is_encrypted
from radios.ble.gatt import IDLE_SECONDS, SWITCH_MODEL, SWITCH_SERVICE, GattSwitch
from radios.ble.keys import KeyStore, WrongKey
from radios.ble.settings import check_adapter

log = logging.getLogger(__name__)

BTHOME_MODEL = "BTHome v2 sensor"
MAX_DEVICES = 512
POLL_INTERVAL = 1.0
#: below the hub's 10 s command timeout, so a slow device is our 504, not the hub's
COMMAND_TIMEOUT = 8.0
#: a device is offline after max(MIN_SILENCE, SILENCE_FACTOR x its usual interval), at most MAX_SILENCE
MIN_SILENCE = 60.0
SILENCE_FACTOR = 5.0
MAX_SILENCE = 1800.0
#: ... and for a device whose interval is not known yet (heard once, or only known from the store)
UNKNOWN_SILENCE = 600.0

_SWITCH_UUID_LE = bytes.fromhex(SWITCH_SERVICE.replace("-", ""))[::-1]  # on air, UUIDs are little-endian
_OR_PATTERNS = [
    OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xd2\xfc"),
    OrPattern(0, AdvertisementDataType.COMPLETE_LIST_SERVICE_UUID128, _SWITCH_UUID_LE),
    OrPattern(0, AdvertisementDataType.INCOMPLETE_LIST_SERVICE_UUID128, _SWITCH_UUID_LE),
]


@dataclass(frozen=True, slots=True)
class BleakBackends:
    """Which bleak backends to use; None means bleak's platform backend (BlueZ over D-Bus)."""

    scanner: type[Any] | None = None
    client: type[Any] | None = None
    #: extra keyword arguments for BleakScanner and BleakClient (the simulator passes its air)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Known:
    """What the radio knows of one device between advertisements (no attribute state: the hub has it)."""

    device: Device
    decoder: BTHomeDevice | None = None
    switch: GattSwitch | None = None
    ble: BLEDevice | None = None
    last_seen: float | None = None
    interval: float | None = None
    sleepy: bool = False
    last_encrypted: dict[str, bytes] | None = None
    #: the service data last decoded: BlueZ re-reports it with every RSSI or connection change
    last_data: bytes = b""
    announced: bool = False


class BleRadio(Radio):
    """BTHome sensors and GATT switches on one Bluetooth adapter, through bleak."""

    protocol = Protocol.BLE

    def __init__(
        self,
        ctx: RadioContext,
        adapter: str = "hci0",
        *,
        watch: AdapterWatch | None = None,
        backends: BleakBackends | None = None,
        poll_interval: float = POLL_INTERVAL,
        command_timeout: float = COMMAND_TIMEOUT,
        gatt_idle: float = IDLE_SECONDS,
        min_silence: float = MIN_SILENCE,
        unknown_silence: float = UNKNOWN_SILENCE,
    ) -> None:
        super().__init__(ctx)
        # the name goes into D-Bus object paths: only hciN (or "sim" with its own watch) is accepted
        self.adapter = adapter if watch is not None else check_adapter(adapter)
        self.watch: AdapterWatch = watch if watch is not None else BlueZAdapterWatch(adapter)
        self.backends = backends or BleakBackends()
        self.poll_interval = poll_interval
        self.command_timeout = command_timeout
        self.gatt_idle = gatt_idle
        self.min_silence = min_silence
        self.unknown_silence = unknown_silence
        self.keys = KeyStore(ctx.data_dir)
        self.scanning_mode = ""
        #: advertisements from unknown devices outside inclusion, and other refusals, by reason
        self.ignored = 0
        self.refused: dict[str, int] = {}
        self.recoveries = 0
        self._known: dict[DeviceId, _Known] = {}
        self._inclusion_until = 0.0
        self._scanner: BleakScanner | None = None
        self._token: str | None = None
        self._tasks = TaskGroup("ble")
        #: set whenever the radio (re)enters RUNNING / RECOVERING; tests and the demo await them
        self.running = asyncio.Event()
        self.recovering = asyncio.Event()

    # --- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Probe the adapter, start scanning, announce the devices we know."""
        self.state = RadioState.STARTING
        self.keys.load()
        self._restore()
        if any(k.decoder is not None for k in self._known.values()):
            # known BTHome devices: load the parser now, off the loop, not at their first advertisement
            await asyncio.to_thread(importlib.import_module, "bthome_ble")
        token = await self.watch.probe()
        if token is None:
            self.state = RadioState.STOPPED
            raise RadioUnavailable(f"Bluetooth adapter {self.adapter} unavailable: {self._problem()}")
        try:
            await self._start_scanning()
        except (BleakError, OSError, EOFError, TimeoutError) as exc:
            self.state = RadioState.STOPPED
            raise RadioUnavailable(f"Bluetooth adapter {self.adapter}: cannot scan ({exc})") from None
        self._token = token
        now = time.monotonic()
        for known in self._known.values():
            known.last_seen = now  # a remembered device that stays silent goes offline in time
            self.ctx.emit(DeviceAdded(known.device))
        self._tasks.spawn(self._supervise(), "adapter watch")
        self._set_running()

    async def stop(self) -> None:
        """Stop scanning, close GATT connections and the adapter probe; safe to call twice."""
        await self._tasks.close()
        await self._stop_scanning()
        await self.close_links()
        await self._tasks.close()
        await self.watch.close()
        self.running.clear()
        self.state = RadioState.STOPPED

    def _restore(self) -> None:
        for device in self.ctx.known_devices.values():
            if device.protocol is Protocol.BLE and device.id not in self._known:
                self._known[device.id] = self._record(device)

    def _record(self, device: Device) -> _Known:
        known = _Known(device, announced=True)
        if device.model == SWITCH_MODEL:
            known.switch = GattSwitch(
                device.id, self._connector(known), self._switch_state, self._tasks, idle=self.gatt_idle
            )
        else:
            mac = _mac(device.id)
            known.decoder = BTHomeDevice(mac, self.keys.get(device.id))
        return known

    def _set_running(self) -> None:
        self.state = RadioState.RUNNING
        self.recovering.clear()
        self.running.set()

    def _set_recovering(self) -> None:
        self.state = RadioState.RECOVERING
        self.running.clear()
        self.recovering.set()

    def _problem(self) -> str:
        return getattr(self.watch, "last_problem", "") or "not present or powered off"

    # --- scanning and adapter supervision -----------------------------------------------------

    async def _start_scanning(self) -> None:
        options: dict[str, Any] = dict(self.backends.options)
        if self.backends.scanner is not None:
            options["backend"] = self.backends.scanner
        passive = BleakScanner(
            self._on_advertisement,
            scanning_mode="passive",
            bluez={"adapter": self.adapter, "or_patterns": list(_OR_PATTERNS)},
            **options,
        )
        try:
            await passive.start()
            self._scanner, self.scanning_mode = passive, "passive"
            return
        except BleakError as exc:
            # BlueZ without advertisement monitors (no --experimental, old kernel): scan actively
            log.info("BLE %s: passive scanning unavailable (%s); scanning actively", self.adapter, exc)
        active = BleakScanner(
            self._on_advertisement, scanning_mode="active", bluez={"adapter": self.adapter}, **options
        )
        await active.start()
        self._scanner, self.scanning_mode = active, "active"

    async def _stop_scanning(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            # the adapter may be gone already; stopping then fails, and that is fine
            with contextlib.suppress(BleakError, OSError, EOFError, TimeoutError, KeyError, ValueError):
                async with asyncio.timeout(2.0):
                    await scanner.stop()

    async def close_links(self) -> None:
        """Disconnect every GATT link now (they also close after `gatt_idle` seconds unused)."""
        for known in self._known.values():
            if known.switch is not None:
                known.switch.abort(f"Bluetooth adapter {self.adapter} went away")
                await known.switch.close()

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            token = await self.watch.probe()
            if token != self._token:
                await self._adapter_changed(token)
            self._sweep(time.monotonic())

    async def _adapter_changed(self, token: str | None) -> None:
        if self._token is not None:
            log.warning("BLE %s: adapter lost (%s); recovering", self.adapter, self._problem())
            self._set_recovering()
            self._token = None
            await self._stop_scanning()
            await self.close_links()
        if token is None:
            self._set_recovering()
            return
        try:
            await self._start_scanning()
        except (BleakError, OSError, EOFError, TimeoutError) as exc:
            log.warning("BLE %s: adapter back but scanning failed (%s); retrying", self.adapter, exc)
            return
        self._token = token
        self.recoveries += 1
        log.info("BLE %s: adapter back, scanning (%s)", self.adapter, self.scanning_mode)
        self._set_running()

    def _sweep(self, now: float) -> None:
        """Mark devices offline whose advertisements stopped (sleepy devices only speak on events)."""
        for known in self._known.values():
            if known.last_seen is None or known.sleepy or not known.device.online:
                continue
            if known.interval is None:
                silence = max(self.min_silence, self.unknown_silence)
            else:
                silence = min(MAX_SILENCE, max(self.min_silence, SILENCE_FACTOR * known.interval))
            if now - known.last_seen > silence:
                self._set_online(known, False)

    def _set_online(self, known: _Known, online: bool) -> None:
        known.device = replace(known.device, online=online)
        self.ctx.emit(DeviceOnline(known.device.id, online))

    # --- advertisements -----------------------------------------------------------------------

    def _on_advertisement(self, ble: BLEDevice, adv: AdvertisementData) -> None:
        device_id = ble_device_id(ble.address)
        known = self._known.get(device_id)
        if known is None:
            known = self._include(device_id, ble, adv)
            if known is None:
                return
        now = time.monotonic()
        if known.last_seen is not None:
            gap = now - known.last_seen
            known.interval = gap if known.interval is None else 0.8 * known.interval + 0.2 * gap
        known.last_seen = now
        known.ble = ble
        if not known.device.online:
            self._set_online(known, True)
        if known.decoder is not None:
            self._on_bthome(known, adv.service_data)

    def _include(self, device_id: DeviceId, ble: BLEDevice, adv: AdvertisementData) -> _Known | None:
        if time.monotonic() >= self._inclusion_until:
            self.ignored += 1
            return None
        if len(self._known) >= MAX_DEVICES:
            self._refuse("too_many_devices")
            return None
        name = adv.local_name or ""
        if SWITCH_SERVICE in adv.service_uuids:
            device = Device(
                device_id,
                Protocol.BLE,
                name or f"BLE switch {device_id[-4:]}",
                "",
                SWITCH_MODEL,
                capabilities=("switch",),
            )
        elif is_bthome(adv.service_data):
            device = Device(
                device_id,
                Protocol.BLE,
                name or f"BTHome sensor {device_id[-4:]}",
                "BTHome",
                BTHOME_MODEL,
                needs_key=is_encrypted(adv.service_data),
            )
        else:
            self.ignored += 1
            return None
        known = self._record(device)
        known.ble = ble
        known.announced = False
        self._known[device_id] = known
        log.info("BLE: %s joined (%s)", device_id, device.model)
        if device.needs_key or known.switch is not None:
            self._announce(known, device)
        # a plaintext BTHome device is announced with its first reading (capabilities come from it)
        return known

    def _on_bthome(self, known: _Known, service_data: Mapping[str, bytes]) -> None:
        assert known.decoder is not None
        data = service_data.get(BTHOME_UUID)
        if data is None:
            return
        if data == known.last_data:
            return  # the same advertisement again (or re-reported), not news: a button is pressed once
        known.last_data = data
        known.sleepy = bool(data[0] & 0b100) if data else False
        if is_encrypted(service_data):
            known.last_encrypted = {BTHOME_UUID: data}
        reading = known.decoder.decode(service_data)
        self._apply(known, reading)

    def _apply(self, known: _Known, reading: Reading) -> None:
        if reading.verdict is Verdict.NEEDS_KEY:
            if not known.device.needs_key:
                self._announce(known, replace(known.device, needs_key=True))
            return
        if reading.verdict is not Verdict.OK:
            if reading.verdict is not Verdict.DUPLICATE:
                self._refuse(reading.verdict.value)
                ratelog.log(
                    log,
                    "ble.refused",
                    logging.WARNING,
                    "BLE %s: advertisement refused (%s)",
                    known.device.id,
                    reading.verdict.value,
                )
            return
        attributes = dict(reading.attributes or {})
        capabilities = set(known.device.capabilities) | set(attributes)
        if reading.buttons:
            capabilities.add("button")
        fresh = tuple(sorted(capabilities))
        device_id = known.device.id
        if fresh != known.device.capabilities or known.device.needs_key or not known.announced:
            self._announce(
                known, replace(known.device, capabilities=fresh, needs_key=False, state=attributes)
            )
        else:
            for attribute, value in attributes.items():
                self.ctx.emit(StateChanged(device_id, attribute, value))
        for button, action in reading.buttons:
            self.ctx.emit(ButtonPressed(device_id, button, action))

    def _announce(self, known: _Known, device: Device) -> None:
        known.device = replace(device, state={})
        known.announced = True
        self.ctx.emit(DeviceAdded(device))

    def _refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def counters(self) -> dict[str, int]:
        """Unknown devices ignored, adapter recoveries, and advertisements refused by reason."""
        refused = {f"refused_{reason}": count for reason, count in sorted(self.refused.items())}
        return {"ignored": self.ignored, "recoveries": self.recoveries, **refused}

    # --- keys ---------------------------------------------------------------------------------

    async def set_bindkey(self, device: DeviceId, key: bytes) -> None:
        """Check `key` against the device's last encrypted advertisement, store it, decode with it."""
        known = self._known.get(device)
        if known is None:
            raise UnknownDevice(f"no BLE device {device}", device=device)
        if known.decoder is None:
            raise InvalidCommand(f"{device} is not a BTHome device; it takes no key", device=device)
        if known.last_encrypted is not None:
            trial = BTHomeDevice(known.decoder.address, key).decode(known.last_encrypted)
            if trial.verdict is Verdict.WRONG_KEY:
                raise WrongKey(f"the key does not decrypt {device}'s advertisements")
        self.keys.put(device, key)
        known.decoder.set_key(key)
        log.info("BLE %s: bindkey set", device)
        if known.last_encrypted is not None:
            self._apply(known, known.decoder.decode(known.last_encrypted))

    # --- commands -----------------------------------------------------------------------------

    async def execute(self, command: Command) -> None:
        """Switch a GATT switch on, off or toggle it; BTHome sensors take no commands."""
        known = self._known.get(command.device)
        if known is None:
            raise UnknownDevice(f"no BLE device {command.device}", device=command.device)
        if self.state is not RadioState.RUNNING:
            raise RadioUnavailable(
                f"Bluetooth adapter {self.adapter} unavailable ({self._problem()})", device=command.device
            )
        if known.switch is None:
            raise InvalidCommand(
                f"{command.device} is a sensor; it takes no {command.name}", device=command.device
            )
        on: bool | None = None
        if command.name == "toggle":
            on = self.ctx.state_of(command.device).get("switch") != "on"
        elif command.name in ("on", "off"):
            on = command.name == "on"
        elif command.name != "refresh":
            raise InvalidCommand(
                f"{command.device} supports on, off, toggle and refresh, not {command.name}",
                device=command.device,
            )
        if known.ble is None:
            raise DeliveryFailed(
                f"{command.device} has not been heard since the hub started", device=command.device
            )
        try:
            async with asyncio.timeout(self.command_timeout):
                if on is None:
                    await known.switch.read()
                else:
                    await known.switch.set(on)
        except TimeoutError:
            raise DeliveryTimeout(
                f"{command.device} did not confirm within {self.command_timeout:g} s", device=command.device
            ) from None
        except (BleakError, DeliveryFailed, OSError, EOFError) as exc:
            # a link that drops may mean the adapter went: ask it now rather than at the next poll
            if self.state is not RadioState.RUNNING or await self.watch.probe() != self._token:
                raise RadioUnavailable(
                    f"Bluetooth adapter {self.adapter} went away", device=command.device
                ) from None
            if isinstance(exc, DeliveryFailed):
                raise
            raise DeliveryFailed(f"{command.device}: {exc}", device=command.device) from None

    def _connector(self, known: _Known) -> Any:
        async def connect(disconnected: Any) -> BleakClient:
            if known.ble is None:
                raise DeliveryFailed(f"{known.device.id} has not been heard", device=known.device.id)
            # loaded with the first GATT connection (~4 MB)
            from bleak_retry_connector import establish_connection

            options: dict[str, Any] = dict(self.backends.options)
            if self.backends.client is not None:
                options["backend"] = self.backends.client
            client: BleakClient = await establish_connection(
                BleakClient,
                known.ble,
                known.device.name,
                disconnected_callback=disconnected,
                max_attempts=2,
                **options,
            )
            return client

        return connect

    def _switch_state(self, device: DeviceId, on: bool) -> None:
        self.ctx.emit(StateChanged(device, "switch", "on" if on else "off"))

    # --- inclusion and removal ----------------------------------------------------------------

    async def set_inclusion(self, seconds: float) -> None:
        """Add BTHome devices and GATT switches heard in the next `seconds` (0 closes)."""
        self._inclusion_until = time.monotonic() + seconds if seconds > 0 else 0.0

    async def remove_device(self, device: DeviceId) -> None:
        """Forget a device and its key (BLE devices do not 'leave'; it is ignored from now on)."""
        known = self._known.pop(device, None)
        if known is None:
            raise UnknownDevice(f"no BLE device {device}", device=device)
        if known.switch is not None:
            await known.switch.close()
        self.keys.drop(device)
        self.ctx.emit(DeviceRemoved(device))


def _mac(device: DeviceId) -> str:
    hexdigits = device.removeprefix("ble-").upper()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))
