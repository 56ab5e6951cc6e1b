"""`hub-agent demo`: a simulated home driven through the real agent, with a live event log.

Everything here is the production agent (store, hub, rules, LAN API, radios) with `sim` radios; the
only fakes are the simulated devices themselves. It opens inclusion so the default household joins,
installs a few sample rules, lets the sensors live, and prints every event as one readable line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import random
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from hub_agent.agent import Agent
from hub_agent.cloud.devcloud import DevRelay, make_dev_pki
from hub_agent.config import (
    BleSection,
    CloudSection,
    Config,
    HubSection,
    LanSection,
    RulesSection,
    ZigbeeSection,
    ZWaveSection,
)
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_agent.logs import setup_logging
from hub_agent.runtime import Runtime
from hub_core.bus import Overflow, Subscription
from hub_core.errors import HubError, ServiceUnavailable
from hub_core.model import (
    ATTRIBUTES,
    ButtonPressed,
    Device,
    DeviceAdded,
    DeviceOnline,
    DeviceRemoved,
    HubEvent,
    Notification,
    Protocol,
    RuleFired,
    StateChanged,
)

DEMO_HUB_ID = "demo-hub"
#: --duration above a week is a typo, not a demo
MAX_DURATION = 7 * 24 * 3600.0
HELP = "run a simulated home (Z-Wave, Zigbee, BLE) through the real agent, with a live event log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--duration S`, `--lan HOST:PORT`, `--data-dir DIR`."""
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--lan", default="127.0.0.1:8443", metavar="HOST:PORT", help="where the LAN API listens"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keep the demo's store here (default: temp)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the simulated household's life")


def main(args: argparse.Namespace) -> int:
    """Run the demo until --duration passes or Ctrl-C."""
    host, _, port = args.lan.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        print(
            f"hub-agent demo: --lan must be HOST:PORT with a port 0-65535, not {args.lan!r}", file=sys.stderr
        )
        return 2
    if args.duration is not None and not (0 < args.duration <= MAX_DURATION):
        print(
            f"hub-agent demo: --duration must be more than 0 and at most {MAX_DURATION:.0f} seconds, "
            f"not {args.duration}",
            file=sys.stderr,
        )
        return 2
    host = host.strip("[]")
    taken = _port_taken(host, int(port))
    if taken is not None:
        print(f"hub-agent demo: {taken}", file=sys.stderr)
        return 1
    setup_logging("debug" if args.debug else "warning")
    with _data_dir(args.data_dir) as data_dir:
        return asyncio.run(run_demo(data_dir, (host, int(port)), duration=args.duration, seed=args.seed))


def _port_taken(host: str, port: int) -> str | None:
    """Why the LAN API could not listen on host:port (with what to do), or None if it can."""
    if port == 0:
        return None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"{host}:{port} is already in use (another demo or hub-agent?); "
                f"choose another port with --lan {host}:{port + 1 if port < 65535 else 8443}, "
                f"or --lan {host}:0 for any free one"
            )
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another address with --lan"
    return None


@contextlib.contextmanager
def _data_dir(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="hub-agent-demo-") as folder:
        yield Path(folder)


def demo_config(
    data_dir: Path,
    lan_host: str,
    lan_port: int,
    cloud: CloudSection | None = None,
    zigbee: ZigbeeSection | None = None,
) -> Config:
    """A config with every radio simulated, the LAN API on the given address, and the dev cloud."""
    return Config(
        path=Path("<demo>"),
        hub=HubSection(
            id="demo-hub", data_dir=data_dir, latitude=48.85, longitude=2.35, timezone="Europe/Paris"
        ),
        zwave=ZWaveSection(port="sim"),
        zigbee=zigbee or ZigbeeSection(radio="sim"),
        ble=BleSection(adapter="sim"),
        lan=LanSection(host=lan_host, port=lan_port, tls=True),
        rules=RulesSection(),
        cloud=cloud,
    )


async def run_demo(
    data_dir: Path,
    lan: tuple[str, int],
    *,
    duration: float | None,
    seed: int | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Start a dev cloud relay and the agent, let the household join and live, print events until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311  (simulated household life, not security)
    # The reference cloud: a development relay on loopback with its own throwaway CA; the hub's
    # client certificate is issued for the hub's own key, as provisioning would.
    pki = await asyncio.to_thread(
        make_dev_pki,
        data_dir / "devcloud",
        DEMO_HUB_ID,
        hub_key=data_dir / "hub.key",
        hub_cert=data_dir / "hub.crt",
    )
    relay = DevRelay.from_pki(pki)
    await relay.start()
    cloud = CloudSection(url=relay.url, ca=pki.ca_cert, cert=pki.hub_cert, key=pki.hub_key)
    # Zigbee takes the production path: zigpy-znp, over our emulated Z-Stack coordinator on loopback.
    stick = await _start_znp_stick(data_dir)
    zigbee = ZigbeeSection(radio="znp", port=stick.url) if stick is not None else None
    agent = Agent(demo_config(data_dir, *lan, cloud=cloud, zigbee=zigbee))
    tasks: list[asyncio.Task[None]] = []
    try:
        runtime = await agent.start()
        printer = EventPrinter(
            runtime.bus.subscribe("demo", maxsize=10_000, overflow=Overflow.DROP_OLDEST),
            out,
            runtime.hub.device,
        )
        tasks.append(loop.create_task(printer.run()))
        await _banner(agent, runtime, relay, out, stick.url if stick is not None else None)
        for protocol in list(runtime.hub.radios):
            with contextlib.suppress(HubError):
                await runtime.hub.set_inclusion(protocol, 60)
        await _set_ble_demo_key(runtime, out)
        tasks.append(loop.create_task(_install_sample_rules(runtime, out)))
        tasks.append(loop.create_task(_simulate_life(runtime, rng, stick)))
        tasks.append(loop.create_task(_phone_via_cloud(runtime, relay, rng, out)))
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await agent.stop()
        await relay.stop()
        if stick is not None:
            await stick.stop()
    print(f"demo stopped after {time.monotonic() - started:.1f} s", file=out, flush=True)
    return 0


async def _banner(agent: Agent, runtime: Runtime, relay: DevRelay, out: TextIO, stick: str | None) -> None:
    print("hub-agent demo: a simulated home through the real agent (Ctrl-C to stop)", file=out)
    print(f"  radios:  {', '.join(p.value for p in runtime.hub.radios)} (simulated devices)", file=out)
    lan = agent.parts.get("lan")
    if isinstance(lan, LanServer):
        try:
            await asyncio.wait_for(lan.started.wait(), 10)
        except TimeoutError:
            status = agent.supervisor.status.get("lan")
            why = status.last_error if status is not None and status.last_error else "no answer in 10 s"
            raise ServiceUnavailable(f"the LAN API did not start: {why}") from None
        issued = await runtime.db.write(create_token("demo"))
        print(f"  LAN API: {lan.url}  (web page at /; self-signed TLS, SHA-256 {lan.fingerprint})", file=out)
        print(f"  token:   {issued.token}", file=out)
    print(f"  cloud:   development relay at {relay.url} (mutual TLS); it plays the phone app below", file=out)
    if stick is not None:
        # Before "joins now": the household's join lines follow that line, the set-up lines precede it.
        print(f"  zigbee:  zigpy-znp over the emulated Z-Stack coordinator at {stick}", file=out)
    print("  opening inclusion: the simulated household joins now", file=out, flush=True)


async def _set_ble_demo_key(runtime: Runtime, out: TextIO) -> None:
    """The encrypted BTHome sensor gets its bindkey, as `POST /api/v1/devices/{id}/key` would set it."""
    from radios.ble.keys import BindkeyTarget

    radio = runtime.hub.radios.get(Protocol.BLE)
    if not isinstance(radio, BindkeyTarget):
        return
    from radios.sim.ble_radio import CONTACT_ID, DEMO_KEY

    try:
        await radio.set_bindkey(CONTACT_ID, DEMO_KEY)
    except (HubError, ValueError) as exc:
        print(f"{_clock()}  key         {CONTACT_ID}: not set ({exc})", file=out, flush=True)
        return
    print(f"{_clock()}  key         {CONTACT_ID}: BTHome bindkey set, it decrypts now", file=out, flush=True)


async def _phone_via_cloud(runtime: Runtime, relay: DevRelay, rng: random.Random, out: TextIO) -> None:
    """Now and then the 'phone app' toggles a light through the cloud, and the result comes back."""
    await relay.wait_connected(DEMO_HUB_ID)
    while True:
        await asyncio.sleep(rng.uniform(6, 10))
        lights = [d for d in runtime.hub.devices() if "switch" in d.capabilities]
        if not lights:
            continue
        light = rng.choice(lights)
        sent = time.perf_counter()
        try:
            result = await relay.send_command(light.id, "toggle", hub_id=DEMO_HUB_ID)
        except (HubError, TimeoutError, ConnectionError) as exc:
            print(f"{_clock()}  cloud       toggle {light.id}: no answer ({exc})", file=out, flush=True)
            continue
        round_trip = (time.perf_counter() - sent) * 1000
        outcome = result.status if result.error is None else f"{result.status} ({result.error})"
        print(
            f"{_clock()}  cloud       phone -> cloud -> hub: toggle {light.id}: {outcome}, "
            f"{round_trip:.1f} ms round trip ({result.ms:.2f} ms in the hub)",
            file=out,
            flush=True,
        )


async def _install_sample_rules(runtime: Runtime, out: TextIO) -> None:
    """Once the household has joined, add the sample rules (if the rules engine is in this build)."""
    if runtime.rules is None:
        return
    from local_rules.samples import sample_rules

    await asyncio.sleep(1.0)  # let the household finish joining; the rules refer to its devices
    for rule in sample_rules(runtime.hub.devices()):
        try:
            await runtime.rules.put_rule(rule)
            print(f"{_clock()}  rule        {rule['id']} installed", file=out, flush=True)
        except HubError as exc:
            print(f"{_clock()}  rule        {rule.get('id')} refused: {exc}", file=out, flush=True)


async def _simulate_life(runtime: Runtime, rng: random.Random, stick: Any = None) -> None:
    """Every second or so, one simulated device somewhere does something plausible."""
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        radios: list[Any] = [r for r in runtime.hub.radios.values() if hasattr(r, "simulate_activity")]
        if stick is not None and Protocol.ZIGBEE in runtime.hub.radios:
            radios.append(stick)  # the Zigbee household lives in the ZNP emulator
        if radios:
            rng.choice(radios).simulate_activity(rng)


DEMO_ZIGBEE_CHANNEL = 15


async def _start_znp_stick(data_dir: Path) -> Any:
    """The emulated ZNP stick with the Zigbee household, or None without zigpy-znp (then `sim`)."""
    import importlib.util

    if importlib.util.find_spec("zigpy_znp") is None:
        return None
    from radios.sim.zigbee_household import default_household
    from radios.sim.znp.server import ZnpEmulator

    stick = ZnpEmulator(data_dir / "znp-stick.json", household=default_household())
    # A stick that already carries a network, so the demo starts at once (tests cover formation).
    stick.coordinator.form(DEMO_ZIGBEE_CHANNEL)
    await stick.start("127.0.0.1", 0)
    return stick


class EventPrinter:
    """Prints each bus event as one line: time, kind, device, what happened."""

    def __init__(
        self,
        subscription: Subscription,
        out: TextIO,
        known: Callable[[str], Device | None] = lambda _: None,
    ) -> None:
        self._subscription = subscription
        self._out = out
        self._names: dict[str, str] = {}
        # Devices restored from the store (a second demo on the same --data-dir) never "join" again.
        self._known = known

    async def run(self) -> None:
        """Print until cancelled."""
        try:
            async for event in self._subscription:
                print(self.format(event), file=self._out, flush=True)
        finally:
            self._subscription.close()

    def format(self, event: HubEvent) -> str:
        """One line for one event."""
        when = _clock(getattr(event, "ts", None))
        if isinstance(event, StateChanged):
            unit = ATTRIBUTES[event.attribute].unit if event.attribute in ATTRIBUTES else None
            value = f"{event.value} {unit}" if unit and not isinstance(event.value, str) else str(event.value)
            return f"{when}  state       {self._label(event.device)}  {event.attribute} = {value}"
        if isinstance(event, ButtonPressed):
            return f"{when}  button      {self._label(event.device)}  button {event.button} {event.action}"
        if isinstance(event, DeviceAdded):
            device = event.device
            self._names[device.id] = device.name
            # An encrypted sensor without its key shows no capabilities yet: say why, not "()".
            about = [*device.capabilities, *(["needs its key"] if device.needs_key else [])]
            return f"{when}  joined      {self._label(device.id)}  {device.model} ({', '.join(about)})"
        if isinstance(event, DeviceRemoved):
            return f"{when}  removed     {self._label(event.device)}"
        if isinstance(event, DeviceOnline):
            return f"{when}  {'online ' if event.online else 'offline'}     {self._label(event.device)}"
        if isinstance(event, RuleFired):
            return f"{when}  rule        {event.rule} fired on {event.trigger} in {event.latency_ms:.2f} ms"
        if isinstance(event, Notification):
            return f"{when}  notify      {event.rule}: {event.message}"
        return f"{when}  {type(event).__name__}"

    def _label(self, device: str) -> str:
        name = self._names.get(device)
        if name is None and (known := self._known(device)) is not None:
            name = self._names[device] = known.name
        return f"{device} ({name})" if name else device


def _clock(ts: Any = None) -> str:
    moment = ts if isinstance(ts, float) else time.time()
    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment * 1000) % 1000:03d}"
