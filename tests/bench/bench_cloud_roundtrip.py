"""Benchmark: cloud command -> simulated radio confirms -> command_result, over loopback mutual TLS;
and event upload throughput on the one connection.

Run by hand: `.venv/bin/python tests/bench/bench_cloud_roundtrip.py [--commands N] [--events N]`.
Prints figures; asserts nothing. The agent core (Hub, EventBus, SQLite store, CloudLink) is real;
the cloud is the DevRelay (websockets server, TLS 1.3 with client certificates) in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cloud"))

from test_cloud_harness import build_agent, next_events, pki_for, relay_for, running, write_config

from hub_core.backoff import SystemClock
from hub_core.model import DeviceId


def figures(name: str, samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{name}: n={len(ordered)} p50={statistics.median(ordered):.3f} ms "
        f"p99={p99:.3f} ms max={ordered[-1]:.3f} ms"
    )


async def bench(commands: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        paths = pki_for(tmp)
        async with relay_for(paths) as relay:
            # The bench measures the link, not the per-hub request rate limit (default 50/s).
            config = write_config(tmp, paths, relay.url, extra_cloud="max_requests_per_second = 100000\n")
            agent = await build_agent(config, clock=SystemClock())
            async with running(agent):
                await agent.connected()
                await relay.wait_connected()
                await next_events(relay, 7)
                # Warm up TLS buffers, the JSON paths and the store thread.
                for _ in range(50):
                    await relay.send_command("zwave-2", "toggle")
                round_trip: list[float] = []
                on_hub: list[float] = []
                for _ in range(commands):
                    started = time.perf_counter()
                    result = await relay.send_command("zwave-2", "toggle")
                    round_trip.append((time.perf_counter() - started) * 1000)
                    on_hub.append(result.ms)
                    assert result.status == "ok", result
                # Let the state events of those commands drain before measuring uploads.
                await next_events(relay, 2 * (commands + 50), timeout=120)

                started = time.perf_counter()
                for i in range(events):
                    agent.radio.report(DeviceId("zwave-4"), "motion", "inactive" if i % 2 else "active")
                    if i % 200 == 199:
                        await asyncio.sleep(0)
                await next_events(relay, events, timeout=300)
                upload_s = time.perf_counter() - started

        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
        )
        print(figures("cloud command -> radio confirm -> command_result at the cloud", round_trip))
        print(figures("  hub-measured `ms` in the result (dispatch -> radio confirmed)", on_hub))
        print(f"event upload: {events} events in {upload_s:.2f} s = {events / upload_s:,.0f} events/s")
        print(f"max RSS (agent + relay in one process): {rss_mb:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(bench(args.commands, args.events))


if __name__ == "__main__":
    main()
