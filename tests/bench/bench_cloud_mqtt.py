"""Benchmark: the cloud link over MQTT 5 through a real Debian mosquitto on this machine.

Run by hand: `.venv/bin/python tests/bench/bench_cloud_mqtt.py [--commands N] [--events N]
[--fleet 100,250,500,1000] [--budget SECONDS]`. Prints figures; asserts nothing.

1. command -> result: the cloud (an aiomqtt client, CN "cloud") publishes a command with a response
   topic; the real agent core (Hub, bus, SQLite store, CloudLink with protocol "mqtt") runs it on the
   simulated radio and publishes the result. p50/p90/p99/max; the WebSocket figure is
   bench_cloud_roundtrip.py's.
2. event upload: N state changes -> all of them PUBACKed (outbox empty) and received by the cloud.
3. fleet: N lightweight hubs, each one MQTT 5 session made by our MqttConnection (same CONNECT
   properties, will, TLS with its own certificate, six request subscriptions, retained state),
   against one broker; each hub then publishes one event and answers one command. Broker and bench
   RSS per connection, connect time, and the command round trip across the fleet; N grows until a
   step takes longer than the budget or p99 passes one second (the 2-core box is saturated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cloud"))

import aiomqtt  # noqa: E402
from mosquitto import Broker, broker_for, client_identity  # noqa: E402
from test_cloud_harness import build_agent, pki_for, running, write_config  # noqa: E402
from test_cloud_mqtt import MQTT, cloud_client, events_until, request  # noqa: E402

from hub_agent.cloud.devcloud import DevPki  # noqa: E402
from hub_agent.cloud.mqtt import MqttConnection  # noqa: E402
from hub_core.backoff import SystemClock  # noqa: E402
from hub_core.model import DeviceId  # noqa: E402


def figures(name: str, samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    return (
        f"{name}: n={len(ordered)} p50={statistics.median(ordered):.2f} ms p90={pct(0.9):.2f} ms "
        f"p99={pct(0.99):.2f} ms max={ordered[-1]:.2f} ms"
    )


def rss_kb(pid: int | None = None) -> int:
    path = Path(f"/proc/{pid or 'self'}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def one_hub(tmp: Path, paths: DevPki, broker: Broker, commands: int, events: int) -> None:
    agent = await build_agent(
        write_config(tmp, paths, broker.url, extra_cloud=MQTT + "max_requests_per_second = 100000\n"),
        clock=SystemClock(),
    )
    base = "hubs/hub-test-0001/"
    async with cloud_client(broker, paths) as cloud:
        await cloud.subscribe(base + "cmd/res/bench", qos=1)
        async with running(agent):
            await agent.connected()
            samples: list[float] = []
            on_hub: list[float] = []
            for n in range(commands + 50):
                body = {"type": "command", "id": f"b-{n}", "device": "zwave-2", "command": "toggle"}
                started = time.perf_counter()
                await request(cloud, base + "cmd/req", body, base + "cmd/res/bench", b"c")
                async with asyncio.timeout(10):
                    async for message in cloud.messages:
                        if str(message.topic).endswith("cmd/res/bench"):
                            break
                if n >= 50:  # warm-up excluded
                    samples.append((time.perf_counter() - started) * 1000)
                    assert isinstance(message.payload, bytes)
                    on_hub.append(json.loads(message.payload)["ms"])
            print(figures("mqtt command -> result (cloud client, through mosquitto)", samples))
            print(figures("mqtt command on the hub (result.ms)", on_hub))
            await agent.link.outbox.wait_acked(agent.link.outbox.next_seq - 1)
            top = agent.link.outbox.next_seq - 1
            await cloud.unsubscribe(base + "cmd/res/bench")
            await cloud.subscribe(base + "events", qos=1)
            started = time.perf_counter()
            for i in range(events):
                agent.radio.report(DeviceId("zwave-5"), "temperature", 20.0 + (i % 100) / 10)
                if i % 500 == 499:
                    await asyncio.sleep(0)
            await events_until(cloud, top + events, after=top, timeout=300)
            received = time.perf_counter() - started
            await agent.link.outbox.wait_acked(top + events)
            acked = time.perf_counter() - started
            print(
                f"mqtt event upload: {events} events received by the cloud in {received:.2f} s "
                f"({events / received:,.0f}/s), all PUBACKed in {acked:.2f} s"
            )


class _FleetHost:
    """The little an MqttConnection needs to make its client (a fleet hub has no store)."""

    def __init__(self, hub_id: str) -> None:
        self.hub_id = hub_id


async def fleet_step(
    paths: DevPki, broker: Broker, identities: list[tuple[str, ssl.SSLContext]], budget: float
) -> dict[str, Any]:
    assert broker.process is not None
    broker_before, bench_before = rss_kb(broker.process.pid), rss_kb()
    connections: list[MqttConnection] = []
    clients: list[aiomqtt.Client] = []
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):

            async def connect(hub_id: str, context: ssl.SSLContext) -> None:
                connection = MqttConnection(_FleetHost(hub_id), broker.url, context, 60)  # type: ignore[arg-type]
                client = connection._make_client()
                await client.__aenter__()
                connection._client = client
                await client.subscribe([(topic, 1) for topic in connection.topics.requests])
                await connection.publish(connection.topics.state, '{"online":true}', retain=True)
                connections.append(connection)
                clients.append(client)

            for batch in range(0, len(identities), 50):
                await asyncio.gather(*(connect(h, c) for h, c in identities[batch : batch + 50]))
            connected = time.perf_counter() - started
            broker_after, bench_after = rss_kb(broker.process.pid), rss_kb()

            async def answer(connection: MqttConnection, client: aiomqtt.Client) -> None:
                async for message in client.messages:
                    props = message.properties
                    body = json.loads(message.payload)  # type: ignore[arg-type]
                    result = json.dumps({"type": "command_result", "id": body["id"], "status": "ok", "ms": 0})
                    await connection.publish(props.ResponseTopic, result)  # type: ignore[union-attr]
                    client._client.ack(message.mid, message.qos)

            answering = [asyncio.create_task(answer(c, k)) for c, k in zip(connections, clients, strict=True)]
            samples: list[float] = []
            async with cloud_client(broker, paths) as cloud:
                await cloud.subscribe("hubs/+/cmd/res/fleet", qos=1)
                for connection in connections[:: max(1, len(connections) // 100)]:
                    hub = connection.host.hub_id
                    body = {"type": "command", "id": "f", "device": "zwave-2", "command": "on"}
                    t0 = time.perf_counter()
                    await request(cloud, f"hubs/{hub}/cmd/req", body, f"hubs/{hub}/cmd/res/fleet", b"f")
                    async for _ in cloud.messages:
                        break
                    samples.append((time.perf_counter() - t0) * 1000)
            for task in answering:
                task.cancel()
            await asyncio.gather(*answering, return_exceptions=True)
            return {
                "n": len(identities),
                "connect_s": connected,
                "broker_kb_per_conn": (broker_after - broker_before) / len(identities),
                "bench_kb_per_conn": (bench_after - bench_before) / len(identities),
                "broker_rss_mb": broker_after / 1024,
                "samples": samples,
            }
    finally:
        for client in clients:
            await MqttConnection._leave(client)


async def fleet(tmp: Path, sizes: list[int], budget: float) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    paths = pki_for(tmp / "fleet")
    print(f"fleet: fd limit {hard}; building {max(sizes)} hub identities")
    identities = []
    for n in range(max(sizes)):
        hub_id = f"hub-fleet-{n:05d}"
        cert, key = client_identity(paths, hub_id)
        context = ssl.create_default_context(cafile=str(paths.ca_cert))
        context.load_cert_chain(cert, key)
        identities.append((hub_id, context))
    for size in sizes:
        async with broker_for(paths, tmp / f"broker-{size}") as broker:
            try:
                step = await fleet_step(paths, broker, identities[:size], budget)
            except TimeoutError:
                print(f"fleet n={size}: did not finish within {budget:.0f} s: saturated")
                return
        p99 = sorted(step["samples"])[int(len(step["samples"]) * 0.99)] if step["samples"] else 0.0
        print(
            f"fleet n={size}: all connected in {step['connect_s']:.1f} s; broker RSS "
            f"{step['broker_rss_mb']:.1f} MB ({step['broker_kb_per_conn']:.1f} kB/connection), "
            f"simulated hubs {step['bench_kb_per_conn']:.1f} kB/connection; "
            + figures("command -> result across the fleet", step["samples"])
        )
        if p99 > 1000:
            print(f"fleet n={size}: p99 above 1 s: saturated")
            return


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--fleet", default="100,250,500,1000,2000")
    parser.add_argument("--budget", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        paths = pki_for(tmp)
        async with broker_for(paths, tmp / "broker") as broker:
            await one_hub(tmp, paths, broker, args.commands, args.events)
        print(f"bench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")
        await fleet(tmp, [int(n) for n in args.fleet.split(",")], args.budget)


if __name__ == "__main__":
    asyncio.run(main())
