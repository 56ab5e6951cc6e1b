"""Benchmark: `hub-agent run` start to ready, and its RSS, with 200 known devices on simulated radios.

Run by hand: `.venv/bin/python tests/bench/bench_core_startup.py [--runs N]`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hub_agent.store import STORE_FILE, Database
from hub_agent.store.devices import save_device, save_state
from hub_core.model import Device, DeviceId, Protocol

CONFIG = """\
[hub]
id = "bench-hub"
data_dir = "{data}"

[zwave]
port = "sim"

[zigbee]
radio = "sim"

[ble]
adapter = "sim"
"""


async def seed(data_dir: Path, count: int) -> None:
    """Store `count` devices with a few state attributes each, split across the three protocols."""
    db = Database(data_dir / STORE_FILE)
    writes = []
    for n in range(count):
        if n % 3 == 0:
            device_id, protocol = f"zwave-{n + 2}", Protocol.ZWAVE
        elif n % 3 == 1:
            device_id, protocol = f"zigbee-{n:016x}", Protocol.ZIGBEE
        else:
            device_id, protocol = f"ble-{n:012x}", Protocol.BLE
        capabilities = ("switch", "level", "power")
        device = Device(DeviceId(device_id), protocol, f"Device {n}", capabilities=capabilities)
        writes.append(db.submit(save_device(device)))
        for attribute, value in (("switch", "on"), ("level", n % 100), ("power", 1.5)):
            writes.append(db.submit(save_state(device.id, attribute, value, 1.0)))
    await asyncio.gather(*writes)
    await db.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def one_run(config: Path) -> tuple[float, float, int]:
    """(wall ms spawn -> ready line, agent-reported ms, RSS KiB at ready)."""
    started = time.perf_counter()
    agent = subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "run", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    assert agent.stderr is not None
    reported = float("nan")
    for line in agent.stderr:
        if "ready in" in line:
            reported = float(line.split("ready in")[1].split()[0])
            break
    wall = (time.perf_counter() - started) * 1000
    rss = rss_kib(agent.pid)
    agent.send_signal(signal.SIGTERM)
    agent.wait(timeout=10)
    agent.stderr.close()
    return wall, reported, rss


def describe(name: str, values: list[float], unit: str) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"{name:<28} p50 {median:8.1f} {unit}  p99 {p99:8.1f} {unit}  max {ordered[-1]:8.1f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--devices", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        asyncio.run(seed(data, args.devices))
        config = Path(folder) / "hub.toml"
        config.write_text(CONFIG.format(data=data))
        runs = [one_run(config) for _ in range(args.runs)]
    print(f"hub-agent run, {args.devices} known devices, 3 simulated radios, {args.runs} runs")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(describe("spawn -> ready (wall)", [r[0] for r in runs], "ms"))
    print(describe("ready as logged by agent", [r[1] for r in runs], "ms"))
    print(describe("RSS at ready", [r[2] / 1024 for r in runs], "MB"))


if __name__ == "__main__":
    main()
