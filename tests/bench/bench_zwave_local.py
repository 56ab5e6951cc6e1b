"""Benchmark: Z-Wave SendData round trip through our stack against the pty controller emulator.

Measures, per command, the time from the SendData request being handed to the driver (and written)
to its callback being received and parsed, over 2000+ commands; and, separately, the canonical
`ZWaveRadio.execute()` (command -> CC frame -> SendData -> callback). The emulator runs in a child
process (its own interpreter, like a real stick on the other side of a wire), reached through a pty.
Prints p50/p99/max in milliseconds and the process RSS. Not a test: nothing is asserted.

    .venv/bin/python tests/bench/bench_zwave_local.py [--count 2000] [--in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for hubtest

from hub_core.model import Command, DeviceAdded, DeviceId, StateChanged
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.controller import Controller, transmit_ok
from radios.zwave.radio import ZWaveRadio


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name:<34} n={len(samples):<5} p50={statistics.median(ordered) * 1000:7.3f} ms"
        f"  p99={p99 * 1000:7.3f} ms  max={ordered[-1] * 1000:7.3f} ms"
    )


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(count: int, in_process: bool) -> None:
    emulator: ZWaveEmulator | None = None
    child: subprocess.Popen[str] | None = None
    if in_process:
        emulator = ZWaveEmulator()
        await emulator.start()
        for node in household():
            emulator.add_node(node)
        port = emulator.port_path
    else:
        child = subprocess.Popen(
            [sys.executable, "-m", "radios.sim.zwave_emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        port = child.stdout.readline().strip()
    try:
        controller = Controller(port, on_message=lambda m: None)
        await controller.start()
        on, off = b"\x25\x01\xff", b"\x25\x01\x00"
        for i in range(50):  # warm-up
            await controller.send_data(2, on if i % 2 else off)
        samples: list[float] = []
        for i in range(count):
            started = time.perf_counter()
            callback = await controller.send_data(2, on if i % 2 else off)
            samples.append(time.perf_counter() - started)
            if not transmit_ok(callback):
                raise SystemExit(f"command {i} not delivered: {callback}")
        await controller.close()
        print(summary("SendData request -> callback", samples))

        with tempfile.TemporaryDirectory() as data_dir:
            log = EventLog()
            radio = ZWaveRadio(RadioContext(Path(data_dir), log), port)
            started = time.perf_counter()
            await radio.start()
            await radio.settle()
            print(
                f"radio start + interview of {radio.interviews} listening node(s) "
                f"({len(radio.nodes)} in the network; sleeping ones wait for their wake-up): "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )
            commands = [Command(DeviceId("zwave-2"), "on"), Command(DeviceId("zwave-2"), "off")]
            execute: list[float] = []
            for i in range(count):
                started = time.perf_counter()
                await radio.execute(commands[i % 2])
                execute.append(time.perf_counter() - started)
            print(summary("ZWaveRadio.execute (supervised)", execute))
            dimmer: list[float] = []
            for i in range(count // 4):
                started = time.perf_counter()
                await radio.execute(Command(DeviceId("zwave-3"), "set_level", {"level": i % 100}))
                dimmer.append(time.perf_counter() - started)
            print(summary("ZWaveRadio.execute set_level", dimmer))
            await radio.stop()
        print(
            f"RSS: {rss_mb():.1f} MB (emulator {'in this process' if in_process else 'in a child process'})"
        )
        await inbound(count)
    finally:
        if emulator is not None:
            await emulator.stop()
        if child is not None:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=10)


async def inbound(count: int) -> None:
    """Report in: a node's unsolicited report written to the pty -> StateChanged emitted by the radio."""
    emulator = ZWaveEmulator()
    await emulator.start()
    sensor = emulator.add_node(household()[2])
    sensor.awake = True
    samples: list[float] = []
    got = asyncio.Event()
    ready = asyncio.Event()
    sent_at = 0.0

    def emit(event: object) -> None:
        if isinstance(event, DeviceAdded):
            ready.set()
        if isinstance(event, StateChanged) and event.attribute == "motion":
            samples.append(time.perf_counter() - sent_at)
            got.set()

    with tempfile.TemporaryDirectory() as data_dir:
        radio = ZWaveRadio(RadioContext(Path(data_dir), emit), emulator.port_path)
        await radio.start()
        sensor.wake_up()  # a sleeping node is interviewed when it wakes up
        await asyncio.wait_for(ready.wait(), 10)
        await radio.settle()
        try:
            for i in range(count):
                got.clear()
                sent_at = time.perf_counter()
                sensor.report("motion", "active" if i % 2 else "inactive")
                await asyncio.wait_for(got.wait(), 5)
        finally:
            await radio.stop()
            await emulator.stop()
    print(summary("report written -> StateChanged", samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--in-process", action="store_true", help="run the emulator in this process")
    args = parser.parse_args()
    asyncio.run(run(args.count, args.in_process))


if __name__ == "__main__":
    main()
