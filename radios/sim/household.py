"""A generic simulated radio: a small household of devices behind the Radio interface.

It stands in for a protocol whose real stack is not selected (e.g. `[ble] adapter = "sim"`): it speaks
no bytes, only canonical commands and events, so it exercises everything above the radio interface.
The network starts empty; opening inclusion lets the default household join. With `activity_interval`
set, sensors change now and then, so `hub-agent demo` has something to show.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from hub_core.errors import DeliveryFailed, InvalidCommand, RadioUnavailable
from hub_core.model import (
    ButtonPressed,
    Command,
    Device,
    DeviceAdded,
    DeviceId,
    DeviceRemoved,
    Protocol,
    StateChanged,
    Value,
)
from radios.base import Radio, RadioContext, RadioState

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SimDevice:
    """One simulated device: its description and its current state on the 'air'."""

    id: DeviceId
    name: str
    model: str
    capabilities: tuple[str, ...]
    state: dict[str, Value] = field(default_factory=dict)
    reachable: bool = True

    def describe(self, protocol: Protocol) -> Device:
        """The canonical description the radio announces."""
        return Device(
            id=self.id,
            protocol=protocol,
            name=self.name,
            manufacturer="hub-agent simulator",
            model=self.model,
            capabilities=self.capabilities,
            state=dict(self.state),
        )


def _household(protocol: Protocol) -> list[SimDevice]:
    """The default household for one protocol: switch, light, climate, contact, motion, lock, battery."""
    prefix = protocol.value

    def dev(suffix: str, name: str, model: str, caps: tuple[str, ...], **state: Value) -> SimDevice:
        return SimDevice(DeviceId(f"{prefix}-{suffix}"), name, model, caps, dict(state))

    if protocol is Protocol.BLE:
        return [
            dev(
                "a4c138000001",
                "Bedroom thermometer",
                "BTHome TH",
                ("temperature", "humidity", "battery"),
                temperature=19.5,
                humidity=48.0,
                battery=90,
            ),
            dev("a4c138000002", "Desk button", "BTHome button", ("button", "battery"), battery=100),
        ]
    if protocol is Protocol.ZIGBEE:
        return [
            dev(
                "00158d0000000001",
                "Living room bulb",
                "Sim CT bulb",
                ("switch", "level", "color_temp"),
                switch="off",
                level=0,
                color_temp=2700,
            ),
            dev(
                "00158d0000000002",
                "Hall motion",
                "Sim motion",
                ("motion", "illuminance", "battery"),
                motion="inactive",
                illuminance=120.0,
                battery=87,
            ),
            dev(
                "00158d0000000003",
                "Kitchen climate",
                "Sim TH",
                ("temperature", "humidity", "battery"),
                temperature=21.0,
                humidity=45.0,
                battery=95,
            ),
            dev("00158d0000000004", "Remote", "Sim remote", ("button", "battery"), battery=80),
            dev(
                "00158d0000000005",
                "Coffee plug",
                "Sim plug",
                ("switch", "power", "energy"),
                switch="off",
                power=0.0,
                energy=1.25,
            ),
        ]
    return [
        dev(
            "2",
            "Porch switch",
            "Sim switch",
            ("switch", "power", "energy"),
            switch="off",
            power=0.0,
            energy=3.5,
        ),
        dev("3", "Hall dimmer", "Sim dimmer", ("switch", "level"), switch="off", level=0),
        dev(
            "4",
            "Hall multisensor",
            "Sim multisensor",
            ("temperature", "humidity", "illuminance", "motion", "battery"),
            temperature=20.5,
            humidity=50.0,
            illuminance=80.0,
            motion="inactive",
            battery=100,
        ),
        dev("5", "Front door lock", "Sim lock", ("lock", "battery"), lock="locked", battery=76),
        dev("6", "Back door contact", "Sim contact", ("contact", "battery"), contact="closed", battery=92),
        dev("7", "Boiler leak sensor", "Sim leak", ("water", "battery"), water="dry", battery=99),
        dev(
            "8",
            "Thermostat",
            "Sim thermostat",
            ("temperature", "heating_setpoint", "thermostat_mode"),
            temperature=20.0,
            heating_setpoint=20.0,
            thermostat_mode="heat",
        ),
    ]


def _apply(device: SimDevice, command: Command) -> dict[str, Value]:
    """What the simulated device's state becomes after `command` (only the changed attributes)."""
    state = device.state
    name, args = command.name, command.args
    if name in ("on", "off", "toggle"):
        on = name == "on" or (name == "toggle" and state.get("switch") != "on")
        changes: dict[str, Value] = {"switch": "on" if on else "off"}
        if on and "level" in device.capabilities and not state.get("level"):
            changes["level"] = 100  # a dimmer switched on from zero comes on at full
        if "power" in device.capabilities:
            changes["power"] = 42.0 if on else 0.0
        return changes
    if name == "set_level":
        level = int(args["level"])
        return {"level": level, "switch": "on" if level > 0 else "off"}
    if name == "set_color_temp":
        return {"color_temp": int(args["kelvin"])}
    if name in ("lock", "unlock"):
        return {"lock": "locked" if name == "lock" else "unlocked"}
    if name == "set_heating_setpoint":
        return {"heating_setpoint": args["value"]}
    if name == "set_thermostat_mode":
        return {"thermostat_mode": args["mode"]}
    if name == "refresh":
        return dict(state)
    raise InvalidCommand(f"simulated {device.model} does not understand {name!r}", device=device.id)


class SimRadio(Radio):
    """A simulated radio for one protocol, with the default household available for inclusion."""

    def __init__(
        self,
        protocol: Protocol,
        ctx: RadioContext,
        *,
        activity_interval: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(ctx)
        self.protocol = protocol
        self.activity_interval = activity_interval
        self.devices: dict[DeviceId, SimDevice] = {}
        self.commands: list[Command] = []
        self._random = random.Random(seed)  # noqa: S311  (simulated sensor noise, not security)
        self._tasks: set[asyncio.Task[None]] = set()
        self._inclusion: asyncio.TimerHandle | None = None
        self._restore(ctx.known_devices)

    def _restore(self, known: Mapping[DeviceId, Device]) -> None:
        """Devices the hub remembers are still paired: they stay on the simulated network."""
        for device in known.values():
            if device.protocol is self.protocol:
                self.devices[device.id] = SimDevice(
                    device.id, device.name, device.model, device.capabilities, dict(device.state)
                )

    async def start(self) -> None:
        """Come up and announce the paired devices."""
        self.state = RadioState.RUNNING
        for device in self.devices.values():
            self.ctx.emit(DeviceAdded(device.describe(self.protocol)))
        if self.activity_interval:
            self._spawn(self._activity(self.activity_interval))

    async def stop(self) -> None:
        """Stop simulating; pending activity is cancelled."""
        self.state = RadioState.STOPPED
        if self._inclusion is not None:
            self._inclusion.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def execute(self, command: Command) -> None:
        """Apply the command to the simulated device and report its new state, like a real device."""
        if self.state is not RadioState.RUNNING:
            raise RadioUnavailable(f"simulated {self.protocol.value} radio is {self.state.value}")
        device = self.devices.get(command.device)
        if device is None:
            raise DeliveryFailed(f"{command.device} is not on the simulated network", device=command.device)
        if not device.reachable:
            raise DeliveryFailed(f"{command.device} did not acknowledge", device=command.device)
        self.commands.append(command)
        changes = _apply(device, command)
        device.state.update(changes)
        # A real device reports after it acted; the report arrives after the delivery confirmation.
        loop = asyncio.get_running_loop()
        for attribute, value in changes.items():
            loop.call_soon(self.ctx.emit, StateChanged(device.id, attribute, value))

    async def set_inclusion(self, seconds: float) -> None:
        """Open inclusion: the default household devices not yet paired join one by one."""
        if self._inclusion is not None:
            self._inclusion.cancel()
            self._inclusion = None
        if seconds <= 0:
            return
        self._inclusion = asyncio.get_running_loop().call_later(seconds, self._close_inclusion)
        self._spawn(self._join_household())

    def _close_inclusion(self) -> None:
        self._inclusion = None

    async def _join_household(self) -> None:
        for device in _household(self.protocol):
            if self._inclusion is None:
                return
            if device.id in self.devices:
                continue
            self.devices[device.id] = device
            self.ctx.emit(DeviceAdded(device.describe(self.protocol)))
            await asyncio.sleep(0)

    async def remove_device(self, device: DeviceId) -> None:
        """Exclude a device from the simulated network."""
        if self.devices.pop(device, None) is not None:
            self.ctx.emit(DeviceRemoved(device))

    # --- simulated life ---------------------------------------------------------------------------

    def press(self, device: DeviceId, button: int = 1, action: str = "pressed") -> None:
        """Simulate someone pressing a button on `device`."""
        self.ctx.emit(ButtonPressed(device, button, action))

    def report(self, device: DeviceId, attribute: str, value: Value) -> None:
        """Simulate a device reporting a new value (a sensor reading, a manual switch flip)."""
        sim = self.devices[device]
        sim.state[attribute] = value
        self.ctx.emit(StateChanged(device, attribute, value))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def simulate_activity(self, rng: random.Random) -> None:
        """One device on this simulated network does something plausible (used by the demo)."""
        candidates = [d for d in self.devices.values() if d.reachable]
        if candidates:
            self._act(rng.choice(candidates), rng)

    async def _activity(self, interval: float) -> None:
        """Every `interval` seconds (jittered), one sensor somewhere does something plausible."""
        while True:
            await asyncio.sleep(interval * self._random.uniform(0.5, 1.5))
            candidates = [d for d in self.devices.values() if d.reachable]
            if not candidates:
                continue
            self._act(self._random.choice(candidates), self._random)

    def _act(self, device: SimDevice, rng: random.Random) -> None:
        caps = device.capabilities
        if "motion" in caps:
            self.report(
                device.id, "motion", "inactive" if device.state.get("motion") == "active" else "active"
            )
        elif "contact" in caps:
            self.report(device.id, "contact", "closed" if device.state.get("contact") == "open" else "open")
        elif "temperature" in caps:
            current = float(device.state.get("temperature", 20.0))
            self.report(device.id, "temperature", round(current + rng.uniform(-0.3, 0.3), 1))
        elif "button" in caps:
            self.press(device.id, 1, rng.choice(("pressed", "held", "double")))
