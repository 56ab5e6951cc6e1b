"""Benchmark: radio event -> every events-WebSocket client has it (fan-out over TLS on loopback).

The real LanServer, Hub and EventBus; N clients (default 100) each hold an events WebSocket. The radio
edge reports one state change at a time; we measure, per event, how long until each client
received it, and print p50/p99/max over all (event, client) pairs, plus the process's max RSS.
Clients and server share one process and event loop, so the figures include the clients' own work.

    .venv/bin/python tests/bench/bench_lan_events.py [--clients N] [--events M]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from hub_agent.config import Config, HubSection, LanSection
from hub_agent.hub import Hub
from hub_agent.lan import tls
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_agent.runtime import Runtime
from hub_agent.store import STORE_FILE, Database
from hub_core.bus import EventBus
from hub_core.model import Device, DeviceAdded, DeviceId, Protocol, StateChanged

DEVICE = DeviceId("zwave-2")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.3f} ms  p99 {p99 * 1000:.3f} ms  max {ordered[-1] * 1000:.3f} ms"


async def bench(clients: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        config = Config(
            path=data_dir / "hub.toml",
            hub=HubSection(id="bench-hub", data_dir=data_dir),
            lan=LanSection(host="127.0.0.1", port=0, tls=True, mdns=False),
        )
        db = Database(data_dir / STORE_FILE)
        bus = EventBus()
        hub = Hub(bus)
        hub.ingest(DeviceAdded(Device(DEVICE, Protocol.ZWAVE, "dimmer", capabilities=("level",))))
        server = LanServer(Runtime(config, hub, bus, db, "bench-hub", "bench", "boot"))
        task = asyncio.create_task(server.run())
        await asyncio.wait_for(server.started.wait(), 15)
        token = (await db.write(create_token("bench"))).token
        await server.reload_tokens()
        assert server.certificate is not None
        context = tls.client_context(server.certificate.cert_path)
        sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context), headers={"Authorization": f"Bearer {token}"}
            )
            for _ in range(clients)
        ]
        latencies: list[float] = []
        try:
            sockets = await asyncio.gather(*(s.ws_connect(f"{server.url}api/v1/events") for s in sessions))

            async def receive(ws: aiohttp.ClientWebSocketResponse) -> None:
                message = await ws.receive()
                latencies.append(time.perf_counter() - sent[json.loads(message.data)["value"]])

            sent: dict[int, float] = {}
            for i in range(events):
                level = i % 101
                sent[level] = time.perf_counter()
                hub.ingest(StateChanged(DEVICE, "level", level))
                await asyncio.gather(*(receive(ws) for ws in sockets))
            for ws in sockets:
                await ws.close()
        finally:
            await asyncio.gather(*(s.close() for s in sessions))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await db.close()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"radio event -> {clients} WebSocket clients ({events} events, https, loopback)")
        print(f"  event -> client received : {percentiles(latencies)}")
        print(f"  max RSS                  : {rss_mb:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(bench(args.clients, args.events))


if __name__ == "__main__":
    main()
