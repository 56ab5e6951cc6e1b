"""`hub-agent demo`: a simulated home driven through the real agent, with a live event log.

Everything here is the production agent (store, hub, rules, LAN API, radios) with `sim` radios; the
only fakes are the simulated devices themselves. It opens inclusion so the default household joins,
installs a few sample rules, lets the sensors live, and prints every event as one readable line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from hub_agent.agent import Agent
from hub_agent.bus import Overflow, Subscription
from hub_agent.config import (
    BleSection,
    Config,
    HubSection,
    LanSection,
    RulesSection,
    ZigbeeSection,
    ZWaveSection,
)
from hub_agent.errors import HubError
from hub_agent.logs import setup_logging
from hub_agent.model import (
    ATTRIBUTES,
    ButtonPressed,
    DeviceAdded,
    DeviceOnline,
    DeviceRemoved,
    HubEvent,
    Notification,
    RuleFired,
    StateChanged,
)
from hub_agent.runtime import Runtime

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
    if not host or not port.isdigit():
        print(f"hub-agent demo: --lan must be HOST:PORT, not {args.lan!r}", file=sys.stderr)
        return 2
    setup_logging("debug" if args.debug else "warning")
    with _data_dir(args.data_dir) as data_dir:
        config = demo_config(data_dir, host.strip("[]"), int(port))
        return asyncio.run(run_demo(config, duration=args.duration, seed=args.seed))


@contextlib.contextmanager
def _data_dir(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        yield chosen
        return
    with tempfile.TemporaryDirectory(prefix="hub-agent-demo-") as folder:
        yield Path(folder)


def demo_config(data_dir: Path, lan_host: str, lan_port: int) -> Config:
    """A config with every radio simulated and the LAN API on the given address."""
    return Config(
        path=Path("<demo>"),
        hub=HubSection(
            id="demo-hub", data_dir=data_dir, latitude=48.85, longitude=2.35, timezone="Europe/Paris"
        ),
        zwave=ZWaveSection(port="sim"),
        zigbee=ZigbeeSection(radio="sim"),
        ble=BleSection(adapter="sim"),
        lan=LanSection(host=lan_host, port=lan_port, tls=True),
        rules=RulesSection(),
    )


async def run_demo(
    config: Config, *, duration: float | None, seed: int | None = None, out: TextIO = sys.stdout
) -> int:
    """Start the agent on `config`, let the household join and live, print events until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    agent = Agent(config)
    started = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    try:
        runtime = await agent.start()
        printer = EventPrinter(
            runtime.bus.subscribe("demo", maxsize=10_000, overflow=Overflow.DROP_OLDEST), out
        )
        tasks.append(loop.create_task(printer.run()))
        _banner(runtime, out)
        for protocol in list(runtime.hub.radios):
            with contextlib.suppress(HubError):
                await runtime.hub.set_inclusion(protocol, 60)
        tasks.append(loop.create_task(_install_sample_rules(runtime, out)))
        tasks.append(loop.create_task(_simulate_life(runtime, random.Random(seed))))  # noqa: S311
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await agent.stop()
    print(f"demo stopped after {time.monotonic() - started:.1f} s", file=out, flush=True)
    return 0


def _banner(runtime: Runtime, out: TextIO) -> None:
    lan_url = runtime.facts.get("lan_url")
    print("hub-agent demo: a simulated home through the real agent (Ctrl-C to stop)", file=out)
    print(f"  radios:  {', '.join(p.value for p in runtime.hub.radios)} (simulated)", file=out)
    if lan_url:
        print(f"  LAN API: {lan_url}  (web page at /, TLS fingerprint in `hub-agent info`)", file=out)
        token = runtime.facts.get("demo_token")
        if token:
            print(f"  token:   {token}", file=out)
    else:
        print("  LAN API: not in this build", file=out)
    print("  opening inclusion: the simulated household joins now", file=out, flush=True)


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


async def _simulate_life(runtime: Runtime, rng: random.Random) -> None:
    """Every second or so, one simulated device somewhere does something plausible."""
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        radios = [r for r in runtime.hub.radios.values() if hasattr(r, "simulate_activity")]
        if radios:
            rng.choice(radios).simulate_activity(rng)


class EventPrinter:
    """Prints each bus event as one line: time, kind, device, what happened."""

    def __init__(self, subscription: Subscription, out: TextIO) -> None:
        self._subscription = subscription
        self._out = out
        self._names: dict[str, str] = {}

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
            caps = ", ".join(device.capabilities)
            return f"{when}  joined      {self._label(device.id)}  {device.model} ({caps})"
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
        return f"{device} ({name})" if name else device


def _clock(ts: Any = None) -> str:
    moment = ts if isinstance(ts, float) else time.time()
    return time.strftime("%H:%M:%S", time.localtime(moment)) + f".{int(moment * 1000) % 1000:03d}"
