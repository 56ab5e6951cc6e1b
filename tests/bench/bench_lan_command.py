"""Benchmark: LAN command -> radio bytes written (DESIGN target: p99 <= 5 ms on loopback).

Runs the real LanServer (HTTPS, token auth, real Hub, EventBus, SQLite store in a temp dir with the
state persister writing every change) with a fake radio at the outermost edge that timestamps the
moment it "writes" the command's bytes. A client on a kept-alive TLS connection, in the same process
and event loop (so its own work is included), sends `POST /api/v1/devices/{id}/commands` one after
another; we measure request start -> bytes written, and the full round trip (request -> 200).

    .venv/bin/python tests/bench/bench_lan_command.py [--commands N] [--no-tls]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from hub_agent.config import Config, HubSection, LanSection
from hub_agent.hub import Hub, StatePersister
from hub_agent.lan import tls
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_agent.runtime import Runtime
from hub_agent.store import STORE_FILE, Database
from hub_core.bus import EventBus
from hub_core.model import Command, Device, DeviceAdded, DeviceId, Protocol, StateChanged
from radios.base import Radio, RadioContext, RadioState

DEVICE = DeviceId("zwave-2")


class EdgeRadio(Radio):
    """The air: records when each command's bytes would go to the stick, echoes the new state."""

    protocol = Protocol.ZWAVE

    def __init__(self, ctx: RadioContext) -> None:
        super().__init__(ctx)
        self.written_at: list[float] = []

    async def start(self) -> None:
        self.state = RadioState.RUNNING
        self.ctx.emit(DeviceAdded(Device(DEVICE, Protocol.ZWAVE, "switch", capabilities=("switch",))))

    async def stop(self) -> None:
        self.state = RadioState.STOPPED

    async def execute(self, command: Command) -> None:
        frame = f"{command.device}:{command.name}".encode()  # what a driver would encode
        self.written_at.append(time.perf_counter())
        del frame
        self.ctx.emit(StateChanged(command.device, "switch", command.name))

    async def set_inclusion(self, seconds: float) -> None:
        return None


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.3f} ms  p99 {p99 * 1000:.3f} ms  max {ordered[-1] * 1000:.3f} ms"


async def bench(commands: int, use_tls: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        config = Config(
            path=data_dir / "hub.toml",
            hub=HubSection(id="bench-hub", data_dir=data_dir),
            lan=LanSection(host="127.0.0.1", port=0, tls=use_tls, mdns=False),
        )
        db = Database(data_dir / STORE_FILE)
        bus = EventBus()
        hub = Hub(bus)
        radio = EdgeRadio(RadioContext(data_dir=data_dir, emit=hub.ingest))
        hub.radios[Protocol.ZWAVE] = radio
        await radio.start()
        runtime = Runtime(config, hub, bus, db, "bench-hub", "bench", "boot")
        server = LanServer(runtime)
        # As in the agent: every state change is also written to the store, off the hot path.
        persister = asyncio.create_task(StatePersister(bus, db).run())
        task = asyncio.create_task(server.run())
        await asyncio.wait_for(server.started.wait(), 15)
        token = (await db.write(create_token("bench"))).token
        await server.reload_tokens()
        context = tls.client_context(server.certificate.cert_path) if server.certificate else False
        url = f"{server.url}api/v1/devices/{DEVICE}/commands"
        to_radio: list[float] = []
        round_trip: list[float] = []
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, limit=1),
                headers={"Authorization": f"Bearer {token}"},
            ) as session:
                for i in range(commands + 200):  # the first 200 warm up connection, caches, JIT-free paths
                    started = time.perf_counter()
                    async with session.post(url, json={"command": "on" if i % 2 else "off"}) as response:
                        await response.read()
                        assert response.status == 200, response.status
                    done = time.perf_counter()
                    if i >= 200:
                        to_radio.append(radio.written_at[-1] - started)
                        round_trip.append(done - started)
        finally:
            for part in (task, persister):
                part.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await part
            await radio.stop()
            await db.close()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        scheme = "https" if use_tls else "http"
        print(f"LAN command -> radio bytes ({commands} commands, {scheme}, keep-alive, loopback)")
        print(f"  request -> radio write : {percentiles(to_radio)}")
        print(f"  request -> 200 result  : {percentiles(round_trip)}")
        print(f"  max RSS                : {rss_mb:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--no-tls", action="store_true")
    args = parser.parse_args()
    asyncio.run(bench(args.commands, not args.no_tls))


if __name__ == "__main__":
    main()
