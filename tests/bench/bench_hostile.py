"""Benchmark: a real `hub-agent run` (subprocess, TLS on loopback) under attack.

1. RSS and LAN command latency (POST .../commands -> 200 on a kept-alive TLS connection from the
   household's address) at rest, then while 500 slow TLS clients (handshake done, request head never
   finished) and 200 event WebSockets that never read are connected from the attacker's address.
2. Log bytes per minute while a flood of malformed requests and wrong tokens runs as fast as the
   hub answers.

    .venv/bin/python tests/bench/bench_hostile.py [--commands N] [--slow N] [--readers N] [--flood-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for hostile.attacker

from hostile.attacker import (
    MALFORMED,
    OWNER,
    Agent,
    bad_token_requests,
    close_all,
    event_clients,
    running_agent,
    slow_clients,
)

from hub_agent.store import STORE_FILE, Database
from hub_agent.store.devices import save_device
from hub_core.model import Device, DeviceId, Protocol
from radios.ble.gatt import SWITCH_MODEL

SWITCH = DeviceId("ble-000000000002")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return (
        f"p50 {statistics.median(ordered) * 1000:.2f} ms  p90 {at(0.90):.2f} ms  "
        f"p99 {at(0.99):.2f} ms  max {ordered[-1] * 1000:.2f} ms"
    )


async def seed(data_dir: Path) -> None:
    """One BLE switch the simulated air answers for (as the agent test seeds the store)."""
    db = Database(data_dir / STORE_FILE)
    await db.write(
        save_device(
            Device(SWITCH, Protocol.BLE, "Bench switch", model=SWITCH_MODEL, capabilities=("switch",))
        )
    )
    await db.close()


async def commands(agent: Agent, count: int) -> list[float]:
    """`count` commands one after another on one kept-alive TLS connection from the owner's address."""
    connector = aiohttp.TCPConnector(ssl=agent.context, local_addr=(OWNER, 0), limit=1)
    headers = {"Authorization": f"Bearer {agent.token}"}
    took = []
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        for i in range(count):
            started = time.perf_counter()
            async with session.post(
                f"{agent.url}/api/v1/devices/{SWITCH}/commands", json={"command": "on" if i % 2 else "off"}
            ) as response:
                await response.read()
                assert response.status == 200, (response.status, await response.text())
            took.append(time.perf_counter() - started)
    return took


async def flood_for(agent: Agent, seconds: float, concurrency: int = 32) -> int:
    """Malformed requests and wrong tokens from the attacker's address for `seconds`; how many were sent."""
    requests = list(MALFORMED) + bad_token_requests(agent)
    deadline = time.monotonic() + seconds
    sent = 0

    async def worker(offset: int) -> None:
        nonlocal sent
        i = offset
        while time.monotonic() < deadline:
            await agent.request(requests[i % len(requests)])
            sent += 1
            i += concurrency

    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return sent


async def bench(count: int, slow: int, readers: int, flood_seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        await seed(tmp_path / "data")
        lan = (
            "header_timeout = 120\nmax_connections = 1024\nmax_connections_per_client = 1000\n"
            f"max_event_clients = {max(readers, 1)}\n"
        )
        async with running_agent(tmp_path, lan) as agent:
            await commands(agent, 20)  # warm-up
            rest_rss = agent.rss_kb()
            rest = await commands(agent, count)
            opened = time.perf_counter()
            held = await slow_clients(agent, slow)
            held_readers = await event_clients(agent, readers)
            open_s = time.perf_counter() - opened
            loaded_rss = agent.rss_kb()
            loaded = await commands(agent, count)  # each one is also an event for the 200 non-readers
            after_events_rss = agent.rss_kb()
            await close_all(held + held_readers)
            closed_rss = agent.rss_kb()
            # A second wave: does the memory the first one left behind get reused, or does it add up?
            again = await slow_clients(agent, slow) + await event_clients(agent, readers)
            again_rss = agent.rss_kb()
            await close_all(again)

            log_before = agent.log_bytes
            started = time.monotonic()
            sent = await flood_for(agent, flood_seconds)
            elapsed = time.monotonic() - started
            flood_log = agent.log_bytes - log_before
            statuses = dict(agent.statuses)

        print(f"hub-agent run (TLS, loopback) under attack; {count} commands per phase")
        print(f"  at rest            : RSS {rest_rss / 1024:.1f} MB; command {percentiles(rest)}")
        print(
            f"  {len(held)} slow TLS + {len(held_readers)} non-reading event clients "
            f"(opened in {open_s:.1f} s): "
            f"RSS {loaded_rss / 1024:.1f} MB (+{(loaded_rss - rest_rss) / 1024:.1f})"
        )
        print(f"  command while held : {percentiles(loaded)}")
        print(f"  RSS after {count} events to the non-readers: {after_events_rss / 1024:.1f} MB")
        print(
            f"  RSS after all closed: {closed_rss / 1024:.1f} MB; "
            f"with a second wave open: {again_rss / 1024:.1f} MB"
        )
        print(
            f"  flood: {sent} malformed/wrong-token requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s): "
            f"{flood_log} log bytes = {flood_log / elapsed * 60 / 1024:.1f} KiB/min"
        )
        print(f"  answers: {dict(sorted(statuses.items()))}  (0 = connection refused/closed by a limit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--slow", type=int, default=500)
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(bench(args.commands, args.slow, args.readers, args.flood_seconds))


if __name__ == "__main__":
    main()
