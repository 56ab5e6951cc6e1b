"""`[ble] adapter = "sim"`: the real BLE radio over simulated air, with a small BTHome household.

Household: a climate sensor (plain BTHome), a door contact (encrypted; its key is `DEMO_KEY`, set by
`hub-agent demo`), a motion sensor with a button, and a GATT switch. With `activity_interval`, every
sensor advertises on that period (values drifting a little) so the demo has something to show.
"""

from __future__ import annotations

import asyncio
import random

from hub_core.model import DeviceId, Protocol, ble_device_id
from radios.base import RadioContext
from radios.ble.gatt import SWITCH_MODEL
from radios.ble.radio import BleakBackends, BleRadio
from radios.sim.ble_air import SimAdapterWatch, SimAir, SimClient, SimScanner, SimSwitch, bthome_service_data

CLIMATE = "A4:C1:38:00:00:01"
CONTACT = "A4:C1:38:00:00:02"
MOTION = "A4:C1:38:00:00:03"
SWITCH = "C0:FF:EE:00:00:04"
DEMO_KEY = bytes.fromhex("5b1e0f6c9a3d47e2b8c4a1f00d3e6b79")
CONTACT_ID: DeviceId = ble_device_id(CONTACT)


def sim_backends(air: SimAir) -> BleakBackends:
    """bleak backends over `air`."""
    return BleakBackends(scanner=SimScanner, client=SimClient, options={"air": air})


class SimBleRadio(BleRadio):
    """BleRadio with its adapter simulated; the household advertises while inclusion or activity runs."""

    def __init__(
        self, ctx: RadioContext, *, activity_interval: float | None = None, seed: int | None = None
    ) -> None:
        self.air = SimAir()
        super().__init__(ctx, "sim", watch=SimAdapterWatch(self.air), backends=sim_backends(self.air))
        self.activity_interval = activity_interval
        self._random = random.Random(seed)  # noqa: S311  (simulated sensor noise, not security)
        self._packet = 0
        self._counter = 0
        self.switch = SimSwitch(SWITCH, "Desk lamp switch")
        self.air.add_switch(self.switch)
        # switches the hub remembers are still on the air, in the state the hub last knew
        self._remembered = [
            SimSwitch(_mac(d.id), d.name, on=d.state.get("switch") == "on")
            for d in ctx.known_devices.values()
            if d.protocol is Protocol.BLE and d.model == SWITCH_MODEL
        ]
        for switch in self._remembered:
            self.air.add_switch(switch)

    async def start(self) -> None:
        """Start the radio, let remembered switches be heard, then the household's advertising (if any)."""
        await super().start()
        for switch in self._remembered:
            self.air.advertise_switch(switch)
        if self.activity_interval:
            self._tasks.spawn(self._activity(self.activity_interval), "simulated household")

    async def set_inclusion(self, seconds: float) -> None:
        """Open inclusion and let every household device advertise once, so it can join."""
        await super().set_inclusion(seconds)
        if seconds > 0:
            self.advertise_all()

    def advertise_all(self) -> None:
        """One advertisement from every household device."""
        for advertise in (self._climate, self._contact, self._motion):
            advertise(self._random)
        self.air.advertise_switch(self.switch)

    def simulate_activity(self, rng: random.Random) -> None:
        """One household device advertises something plausible (the demo calls this now and then)."""
        rng.choice([self._climate, self._contact, self._motion, self._switch])(rng)

    def _switch(self, rng: random.Random) -> None:
        for switch in (self.switch, *self._remembered):
            self.air.advertise_switch(switch)

    def _next_packet(self) -> int:
        self._packet = (self._packet + 1) % 256
        return self._packet

    def _climate(self, rng: random.Random) -> None:
        values: list[tuple[str, float]] = [
            ("packet_id", self._next_packet()),
            ("temperature", round(21 + rng.uniform(-0.5, 0.5), 2)),
            ("humidity", round(45 + rng.uniform(-2, 2), 2)),
            ("battery", 87),
        ]
        self.air.advertise_bthome(CLIMATE, "Living room climate", bthome_service_data(values))

    def _contact(self, rng: random.Random) -> None:
        self._counter += 1
        values: list[tuple[str, float]] = [("contact", rng.random() < 0.2), ("battery", 64)]
        data = bthome_service_data(values, key=DEMO_KEY, counter=self._counter, mac=CONTACT)
        self.air.advertise_bthome(CONTACT, "Front door", data)

    def _motion(self, rng: random.Random) -> None:
        values: list[tuple[str, float]] = [("packet_id", self._next_packet()), ("motion", rng.random() < 0.3)]
        if rng.random() < 0.2:
            values.append(("button", 1))
        self.air.advertise_bthome(MOTION, "Hall motion", bthome_service_data(values))

    async def _activity(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.advertise_all()


def _mac(device: DeviceId) -> str:
    hexdigits = device.removeprefix("ble-").upper()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))
