"""Benchmark: the Zigbee adapter over zigpy and the simulated air.

Prints RSS (importing zigpy; 50 and 200 joined devices), join+interview time, restart time from
zigpy's database with 200 devices, and p50/p99/max of command round trips (command -> ZCL frame ->
default response) and of attribute report -> StateChanged. With `--per-device`, the Python memory
each of the last 150 devices added, by source file (tracemalloc; the simulated devices' own share is
listed too, and is not the hub's). Asserts nothing.

Run: `.venv/bin/python tests/bench/bench_zigbee_radio.py [--commands N] [--per-device]`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for hubtest


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def figures(name: str, samples: list[float]) -> None:
    """p50/p99/max in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<34} n={len(samples):<5} p50={statistics.median(ordered):7.3f} ms"
        f"  p99={p99:7.3f} ms  max={ordered[-1]:7.3f} ms"
    )


def print_per_device(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, count: int) -> None:
    """Python memory per device between two snapshots, by file (the top 12 and the total)."""
    stats = after.compare_to(before, "filename")
    total = sum(stat.size_diff for stat in stats)
    print(f"Python memory per joined device: {total / count / 1024:.1f} KiB (tracemalloc), of which:")
    for stat in stats[:12]:
        name = stat.traceback[0].filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        print(f"  {stat.size_diff / count / 1024:6.1f} KiB  {name}")


async def main(commands: int, trace: bool) -> None:
    base = rss_mb()
    import zigpy.application
    import zigpy.zcl.clusters  # noqa: F401

    from hub_agent.config import ZigbeeSection
    from hub_core.model import Command, DeviceId, StateChanged
    from hubtest.zigbee_events import EventLog
    from radios.base import RadioContext
    from radios.sim import zigbee_household as hh
    from radios.sim.zigbee_air import SimulatedAir
    from radios.zigbee.radio import ZigbeeRadio

    after_import = rss_mb()
    print(
        f"RSS before zigpy: {base:.1f} MiB; after importing zigpy + adapter: {after_import:.1f} MiB "
        f"(+{after_import - base:.1f})"
    )

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        air = SimulatedAir.register(SimulatedAir("sim://bench"))
        air.auto_household = False
        section = ZigbeeSection(radio="sim", port="sim://bench", channel=15)
        log = EventLog()
        radio = ZigbeeRadio(section, RadioContext(data, log))
        await radio.start()
        started = rss_mb()
        devices = hh.many_devices(200)
        await radio.set_inclusion(254)
        t0 = time.perf_counter()
        for device in devices[:50]:
            air.join(device)
        await log.added(50, timeout=120)
        t50 = time.perf_counter() - t0
        rss50 = rss_mb()
        air.frames.clear()
        snapshot50 = tracemalloc.take_snapshot() if trace else None
        for device in devices[50:]:
            air.join(device)
        await log.added(200, timeout=300)
        rss200 = rss_mb()
        if snapshot50 is not None:
            air.frames.clear()
            print_per_device(snapshot50, tracemalloc.take_snapshot(), 150)
        print(f"RSS radio started (0 devices): {started:.1f} MiB")
        per_device = (rss50 - started) * 1024 / 50
        print(
            f"RSS with 50 devices: {rss50:.1f} MiB (+{rss50 - started:.1f}, {per_device:.0f} KiB/device);"
            f" join+interview+configure of 50: {t50:.2f} s"
        )
        print(f"RSS with 200 devices: {rss200:.1f} MiB (+{rss200 - started:.1f})")

        # Rotate over every bulb: zigpy drops a frame identical to one from the same device within
        # 10 s as a duplicate, and ZCL sequence numbers repeat after 256 commands.
        bulbs = [
            DeviceId("zigbee-" + str(d.ieee).replace(":", "")) for d in devices if d.model == "SIM-CT-BULB"
        ]
        samples = []
        for number in range(commands):
            t = time.perf_counter()
            await radio.execute(
                Command(bulbs[number % len(bulbs)], "on" if (number // len(bulbs)) % 2 else "off")
            )
            samples.append((time.perf_counter() - t) * 1000)
        figures("command round trip (unicast)", samples)

        from zigpy.zcl.clusters import measurement

        sensor = next(d for d in devices if d.model == "SIM-TH")
        sensor_id = DeviceId("zigbee-" + str(sensor.ieee).replace(":", ""))
        samples = []
        for number in range(commands):
            t = time.perf_counter()
            sensor.set_attribute(measurement.TemperatureMeasurement, "measured_value", 2000 + number % 500)
            await log.next(lambda e: isinstance(e, StateChanged) and e.device == sensor_id)
            samples.append((time.perf_counter() - t) * 1000)
        figures("report -> StateChanged", samples)
        await radio.stop()

        # Restart from zigpy's database with 200 known devices (no re-interview).
        log2 = EventLog()
        radio2 = ZigbeeRadio(section, RadioContext(data, log2))
        t = time.perf_counter()
        await radio2.start()
        restart = time.perf_counter() - t
        frames_before = len(air.frames)
        print(
            f"restart with 200 devices from zigbee.db: {restart * 1000:.0f} ms to RUNNING; "
            f"{len(log2.events)} devices announced; RSS {rss_mb():.1f} MiB"
        )
        await radio2.stop()
        assert len(air.frames) >= frames_before
        SimulatedAir.forget("sim://bench")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--per-device", action="store_true", help="Python memory per device (slow)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.per_device:
        tracemalloc.start()
    asyncio.run(main(args.commands, args.per_device))


if __name__ == "__main__":
    cli()
