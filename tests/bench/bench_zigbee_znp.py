"""Benchmark: the Zigbee adapter through zigpy-znp over our ZNP coordinator emulator, beside the
simulated application (`radio = "sim"`), with the same household of 200 devices.

Prints, per stack: join + interview + configure of 200 devices, p50/p90/p99/max of a unicast command
round trip (command -> ZCL frame -> response) and of attribute report -> StateChanged, the restart
from zigbee.db with 200 devices (time to RUNNING, devices announced, ZDO interviews sent: must be 0)
and RSS. Asserts nothing but the no-interview restart.

Run: `.venv/bin/python tests/bench/bench_zigbee_znp.py [--devices 200] [--commands 300]`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/ for hubtest


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def figures(name: str, samples: list[float]) -> None:
    """p50/p90/p99/max in milliseconds."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    print(
        f"  {name:<30} n={len(samples):<4} p50={statistics.median(ordered):7.3f} ms  p90={pick(0.9):7.3f} ms"
        f"  p99={pick(0.99):7.3f} ms  max={ordered[-1]:7.3f} ms"
    )


class Stack:
    """One way to run the household: the simulated air, or the ZNP emulator under zigpy-znp."""

    def __init__(self, kind: str, folder: Path, count: int) -> None:
        from radios.sim import zigbee_household as hh

        self.kind = kind
        self.folder = folder
        self.devices = hh.many_devices(count)
        self.emulator: Any = None
        self.air: Any = None

    async def open(self) -> str:
        """Plug the stick; return the port for [zigbee]."""
        if self.kind == "znp":
            from radios.sim.znp.server import ZnpEmulator

            self.emulator = ZnpEmulator(self.folder / "znp.json", household=self.devices)
            return str(await self.emulator.start())
        from radios.sim.zigbee_air import SimulatedAir

        self.air = SimulatedAir.register(SimulatedAir("sim://bench-znp"))
        self.air.auto_household = False
        return "sim://bench-znp"

    def join_all(self) -> None:
        """Let every device join (the emulator's household joins by itself on permit)."""
        if self.air is not None:
            for device in self.devices:
                self.air.join(device)

    async def replug(self) -> None:
        """The stick reboots with the hub (its NV kept)."""
        if self.emulator is not None:
            from radios.sim.znp.server import ZnpEmulator

            port = self.emulator.address[1]
            await self.emulator.stop()
            self.emulator = ZnpEmulator(self.folder / "znp.json", household=self.devices)
            await self.emulator.start("127.0.0.1", port)

    def interviews(self) -> int:
        """ZDO Node_Desc requests the host sent to devices so far."""
        if self.emulator is not None:
            return int(self.emulator.air.zdo_requests[0x0002])
        return sum(1 for f in self.air.frames if f.is_zdo and f.cluster_id == 0x0002)

    async def close(self) -> None:
        if self.emulator is not None:
            await self.emulator.stop()
        if self.air is not None:
            from radios.sim.zigbee_air import SimulatedAir

            SimulatedAir.forget("sim://bench-znp")


async def run(kind: str, count: int, commands: int) -> None:
    from zigpy.zcl.clusters import measurement

    from hub_core.model import Command, DeviceId, StateChanged
    from hubtest.zigbee_events import EventLog
    from radios.base import RadioContext
    from radios.zigbee.radio import ZigbeeRadio
    from radios.zigbee.settings import ZigbeeSection

    print(f"{kind}: {'zigpy-znp over the ZNP emulator (MT over TCP)' if kind == 'znp' else 'simulated app'}")
    with tempfile.TemporaryDirectory() as folder:
        stack = Stack(kind, Path(folder), count)
        port = await stack.open()
        section = ZigbeeSection(radio=kind, port=port, channel=15)
        data = Path(folder) / "hub"
        data.mkdir()
        log = EventLog()
        radio = ZigbeeRadio(section, RadioContext(data, log))
        t = time.perf_counter()
        await radio.start()
        formed = time.perf_counter() - t
        base = rss_mb()
        t = time.perf_counter()
        await radio.set_inclusion(254)
        stack.join_all()
        await log.added(count, timeout=600)
        await radio.wait_configured()
        joined = time.perf_counter() - t
        print(
            f"  start (formation) {formed * 1000:.0f} ms; join+interview+configure of {count}:"
            f" {joined:.2f} s; RSS {rss_mb():.1f} MiB (+{rss_mb() - base:.1f} for the devices)"
        )
        bulbs = [
            DeviceId("zigbee-" + str(d.ieee).replace(":", ""))
            for d in stack.devices
            if d.model == "SIM-CT-BULB"
        ]
        samples = []
        for number in range(commands):
            t = time.perf_counter()
            on = (number // len(bulbs)) % 2 == 1
            await radio.execute(Command(bulbs[number % len(bulbs)], "on" if on else "off"))
            samples.append((time.perf_counter() - t) * 1000)
        figures("command round trip (unicast)", samples)
        sensors = [d for d in stack.devices if d.model == "SIM-TH"]
        samples = []
        for number in range(commands):
            sensor = sensors[number % len(sensors)]
            sensor_id = DeviceId("zigbee-" + str(sensor.ieee).replace(":", ""))
            waiting = asyncio.ensure_future(
                log.next(lambda e, s=sensor_id: isinstance(e, StateChanged) and e.device == s)
            )
            await asyncio.sleep(0)
            t = time.perf_counter()
            sensor.set_attribute(measurement.TemperatureMeasurement, "measured_value", 2000 + number % 500)
            await waiting
            samples.append((time.perf_counter() - t) * 1000)
        figures("report -> StateChanged", samples)
        await radio.stop()

        await stack.replug()
        interviews = stack.interviews() if kind == "sim" else 0
        log2 = EventLog()
        radio2 = ZigbeeRadio(section, RadioContext(data, log2))
        t = time.perf_counter()
        await radio2.start()
        running = time.perf_counter() - t
        await log2.added(count, timeout=60)
        announced = time.perf_counter() - t
        sent = stack.interviews() - interviews
        print(
            f"  restart with {count} devices from zigbee.db: RUNNING in {running * 1000:.0f} ms,"
            f" all announced in {announced * 1000:.0f} ms; ZDO interviews sent: {sent};"
            f" RSS {rss_mb():.1f} MiB"
        )
        assert sent == 0, "a restart must not interview devices again"
        await radio2.stop()
        await stack.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--stack", choices=["sim", "znp", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"RSS at start: {rss_mb():.1f} MiB")
    for kind in ["sim", "znp"] if args.stack == "both" else [args.stack]:
        asyncio.run(run(kind, args.devices, args.commands))


if __name__ == "__main__":
    cli()
