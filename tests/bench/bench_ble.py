"""Benchmark: BLE advertisement received -> state event published, and RSS with 150 BLE devices.

Two peers, same radio (BleRadio, bleak, bthome-ble) feeding a real Hub and EventBus:
- `--peer bluez`: bleak's BlueZ backend against python-dbusmock's BlueZ on a private system bus; an
  advertisement is a D-Bus PropertiesChanged from the mock bluetoothd (t0 = just before the test asks
  the mock to advertise, so the figure includes the D-Bus hop and bleak's property handling);
- `--peer sim`: bleak over the simulated air (SimScanner), in-process.
150 BTHome sensors (a third of them encrypted) advertise every 2 s for `--seconds`; each advertisement
carries a new temperature, so each one must end as a StateChanged on the bus. Prints p50/p90/p99/max of
advertisement -> StateChanged delivered to a bus subscriber, lost advertisements, and RSS.
Asserts nothing.

Run: `.venv/bin/python tests/bench/bench_ble.py [--peer bluez|sim] [--seconds 30]`
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

sys.path.insert(0, str(Path(__file__).parents[1] / "ble"))

DEVICES = 150
PERIOD = 2.0


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

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    print(
        f"{name:<40} n={len(samples):<6} p50={statistics.median(ordered):7.3f} ms  p90={pct(0.9):7.3f} ms"
        f"  p99={pct(0.99):7.3f} ms  max={ordered[-1]:7.3f} ms"
    )


async def main(peer: str, seconds: float) -> None:
    base = rss_mb()
    from hub_agent.hub import Hub
    from hub_core.bus import EventBus, Overflow
    from hub_core.model import DeviceAdded, StateChanged, ble_device_id
    from radios.base import RadioContext
    from radios.ble.bthome import BTHOME_UUID
    from radios.ble.radio import BleRadio
    from radios.sim.ble_air import SimAdapterWatch, SimAir, bthome_service_data
    from radios.sim.ble_radio import sim_backends

    imported = rss_mb()
    macs = [f"A4:C1:38:{n >> 8:02X}:{n & 0xFF:02X}:{0x10 + n % 200:02X}" for n in range(DEVICES)]
    keys = {mac: bytes([n % 256]) * 16 for n, mac in enumerate(macs) if n % 3 == 0}
    counters = dict.fromkeys(macs, 0)

    def packet(mac: str, number: int) -> bytes:
        values = [("packet_id", number % 256), ("temperature", 15 + (number % 1000) / 100), ("battery", 90)]
        key = keys.get(mac)
        if key is None:
            return bthome_service_data(values)
        counters[mac] += 1
        return bthome_service_data(values, key=key, counter=counters[mac], mac=mac)

    bluez = None
    air = None
    with tempfile.TemporaryDirectory() as folder:
        bus = EventBus()
        hub = Hub(bus)
        ctx = RadioContext(Path(folder), hub.ingest, state_reader=hub.state_of)
        if peer == "bluez":
            from bluez_peer import BlueZPeer, drop_bleak_manager

            bluez = BlueZPeer()
            bluez.start_bluez()
            bluez.add_adapter()
            radio = BleRadio(ctx, "hci0")

            def advertise(mac: str, number: int) -> None:
                assert bluez is not None
                bluez.advertise(mac, "bench", {BTHOME_UUID: packet(mac, number)}, [BTHOME_UUID])
        else:
            air = SimAir()
            radio = BleRadio(ctx, "sim", watch=SimAdapterWatch(air), backends=sim_backends(air))

            def advertise(mac: str, number: int) -> None:
                assert air is not None
                air.advertise_bthome(mac, "bench", packet(mac, number))

        hub.radios[radio.protocol] = radio
        subscription = bus.subscribe("bench", maxsize=100_000, overflow=Overflow.DROP_OLDEST)
        await radio.start()
        started = rss_mb()
        await radio.set_inclusion(254)
        for mac in macs:
            advertise(mac, 0)
        joined: set[str] = set()
        async for event in subscription:
            if isinstance(event, DeviceAdded):
                joined.add(event.device.id)
                if event.device.needs_key:
                    await radio.set_bindkey(event.device.id, keys[_mac(event.device.id)])
            if len(joined) == DEVICES and all(not d.needs_key for d in hub.devices()):
                break
        await radio.set_inclusion(0)
        joined_rss = rss_mb()

        # Steady state: every device advertises once per PERIOD, spread evenly over the period.
        sent: dict[tuple[str, float], float] = {}
        samples: list[float] = []
        gap = PERIOD / DEVICES
        rounds = max(1, int(seconds / PERIOD))
        ids = {mac: ble_device_id(mac) for mac in macs}

        async def receive() -> None:
            async for event in subscription:
                if isinstance(event, StateChanged) and event.attribute == "temperature":
                    t0 = sent.pop((event.device, float(event.value)), None)
                    if t0 is not None:
                        samples.append((time.perf_counter() - t0) * 1000)

        receiver = asyncio.create_task(receive())
        begin = time.perf_counter()

        def due(round_: int, index: int) -> float:
            return begin + round_ * PERIOD + index * gap - time.perf_counter()

        def one(round_: int, mac: str) -> None:
            sent[(ids[mac], 15 + ((round_ + 1) % 1000) / 100)] = time.perf_counter()
            advertise(mac, round_ + 1)

        if bluez is not None:
            # the mock bluetoothd is driven with blocking dbus-python calls: from a thread of their own,
            # so the radio's event loop is as free as with a real bluetoothd
            def send_all() -> None:
                for round_ in range(rounds):
                    for index, mac in enumerate(macs):
                        time.sleep(max(0.0, due(round_, index)))
                        one(round_, mac)

            await asyncio.to_thread(send_all)
        else:
            for round_ in range(rounds):
                for index, mac in enumerate(macs):
                    await asyncio.sleep(max(0.0, due(round_, index)))
                    one(round_, mac)
        await asyncio.sleep(1.0)
        receiver.cancel()
        steady = rss_mb()
        lost = len(sent)
        await radio.stop()
        subscription.close()
        if bluez is not None:
            await drop_bleak_manager()
            bluez.close()

    print(f"BLE radio, peer={peer}: {DEVICES} BTHome devices ({len(keys)} encrypted), one advertisement each")
    print(f"every {PERIOD:g} s for {rounds * PERIOD:g} s ({DEVICES / PERIOD:.0f} advertisements/s)")
    figures("advertisement -> StateChanged on the bus", samples)
    print(f"lost (no StateChanged): {lost} of {rounds * DEVICES}; refused: {radio.refused or 'none'}")
    print(
        f"RSS: {base:.1f} MiB at start, {imported:.1f} after imports, {started:.1f} radio running, "
        f"{joined_rss:.1f} with {DEVICES} joined, {steady:.1f} after {rounds * PERIOD:g} s of advertising"
    )


def _mac(device: str) -> str:
    hexdigits = device.removeprefix("ble-").upper()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", choices=("bluez", "sim"), default="bluez")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(args.peer, args.seconds))


if __name__ == "__main__":
    cli()
