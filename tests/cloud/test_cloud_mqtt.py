"""The cloud link over MQTT 5 against a real Debian mosquitto (mutual TLS, identity = CN, ACL hubs/%u/#).

The hub is the real agent core with `[cloud] protocol = "mqtt"`; the cloud is an aiomqtt client with
its own certificate (CN "cloud"), the outermost edge. Nothing in between is faked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
from mosquitto import CLOUD_USER, Broker, broker_for, client_identity
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from prometheus_client import CollectorRegistry, generate_latest
from test_cloud_harness import HUB_ID, Agent, build_agent, pki_for, running, write_config

from hub_agent.cloud.devcloud import DevPki
from hub_agent.cloud.link import LinkState
from hub_core.model import DeviceId

MQTT = 'protocol = "mqtt"\n'


def tls(paths: DevPki, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(paths.ca_cert))
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def cloud_client(
    broker: Broker, paths: DevPki, *, name: str = CLOUD_USER, session: bool = False
) -> AsyncIterator[aiomqtt.Client]:
    """An MQTT 5 client with a certificate for `name` (the cloud by default)."""
    cert, key = client_identity(paths, name)
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"{name}-test",
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls(paths, cert, key),
        clean_start=not session,
        properties=_session_props() if session else None,
        socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
    ) as client:
        yield client


def _session_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    return props


async def request(
    client: aiomqtt.Client, topic: str, body: dict[str, Any], response: str | None, correlation: bytes
) -> None:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if response is not None:
        props.ResponseTopic = response
    props.CorrelationData = correlation
    await client.publish(topic, json.dumps(body), qos=1, properties=props)


async def next_json(client: aiomqtt.Client, topic: str, timeout: float = 15) -> tuple[Any, Any]:
    """The next message on `topic` (others are skipped): (payload as JSON, properties)."""
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            if str(message.topic) == topic:
                assert isinstance(message.payload, bytes)
                return json.loads(message.payload), message.properties
    raise AssertionError("the broker went away")


async def mqtt_agent(tmp_path: Path, paths: DevPki, broker: Broker, **kwargs: Any) -> Agent:
    return await build_agent(write_config(tmp_path, paths, broker.url, extra_cloud=MQTT), **kwargs)


async def events_until(
    client: aiomqtt.Client, last: int, *, after: int = 0, timeout: float = 60
) -> list[dict[str, Any]]:
    """Events after seq `after` until seq `last`, resends (at least once) dropped, arrival order kept."""
    seen: list[dict[str, Any]] = []
    top = after
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            if not str(message.topic).endswith("/events"):
                continue
            assert isinstance(message.payload, bytes)
            frame = json.loads(message.payload)
            if frame["seq"] <= top:
                continue  # at-least-once: a resend of something already held
            assert frame["seq"] == top + 1, f"gap after {top}: {frame['seq']}"
            top = frame["seq"]
            seen.append({"seq": frame["seq"], **frame["event"]})
            if top >= last:
                return seen
    raise AssertionError("the broker went away")


async def test_commands_with_and_without_a_response_topic_and_duplicates_once(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with broker_for(paths, tmp_path / "broker") as broker, cloud_client(broker, paths) as cloud:
        base = f"hubs/{HUB_ID}/"
        await cloud.subscribe(base + "#", qos=1)
        agent = await mqtt_agent(tmp_path, paths, broker)
        async with running(agent):
            await agent.connected()
            state, _ = await next_json(cloud, base + "state")
            assert state == {"online": True, "version": "0.1.0-test", "boot_id": agent.runtime.boot_id}
            events = await events_until(cloud, 7)
            assert [e["type"] for e in events] == ["device_added"] * 7
            async with asyncio.timeout(10):
                await agent.link.outbox.wait_acked(7)  # the broker's PUBACKs acknowledged them
            command = {"type": "command", "id": "m-1", "device": "zwave-2", "command": "on"}
            await request(cloud, base + "cmd/req", command, base + "cmd/res/app-7", b"\x01corr")
            result, props = await next_json(cloud, base + "cmd/res/app-7")
            assert (result["type"], result["id"], result["status"]) == ("command_result", "m-1", "ok")
            assert props.CorrelationData == b"\x01corr"
            # The same id again, without a response topic: the stored result, on cmd/res, not run again.
            await request(cloud, base + "cmd/req", command, None, b"x")
            again, _ = await next_json(cloud, base + "cmd/res")
            assert (again["id"], again["status"]) == ("m-1", "ok")
            assert [c.name for c in agent.radio.commands] == ["on"]
            assert agent.link.commands.duplicates == 1
            # A response topic outside the hub's own tree is not used (the ACL would drop it anyway).
            other = {**command, "id": "m-2", "command": "off"}
            await request(cloud, base + "cmd/req", other, "hubs/hub-other/cmd/res", b"y")
            result, _ = await next_json(cloud, base + "cmd/res")
            assert (result["id"], result["status"]) == ("m-2", "ok")
            # A bad request is answered on errors, and the session goes on.
            await cloud.publish(base + "rules/put", b"{not json", qos=1)
            error, _ = await next_json(cloud, base + "errors")
            assert error["error"] == "malformed"
            snapshot_req = {"type": "snapshot_request"}
            await request(cloud, base + "snapshot/req", snapshot_req, None, b"z")
            snapshot, _ = await next_json(cloud, base + "snapshot")
            assert len(snapshot["devices"]) == 7
            assert agent.link.connections == 1


async def test_ten_thousand_events_during_a_broker_outage_arrive_in_order(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with broker_for(paths, tmp_path / "broker") as broker:
        # The cloud's consumer keeps a persistent session: the broker queues for it while it is away.
        async with cloud_client(broker, paths, session=True) as cloud:
            await cloud.subscribe(f"hubs/{HUB_ID}/events", qos=1)
        agent = await mqtt_agent(tmp_path, paths, broker)
        async with running(agent):
            await agent.connected()
            async with cloud_client(broker, paths, session=True) as cloud:
                await events_until(cloud, 7)
            await broker.stop()
            async with asyncio.timeout(30):
                await agent.link.wait_for(LinkState.BACKOFF)
            for i in range(10_000):
                agent.radio.report(DeviceId("zwave-2"), "switch", "off" if i % 2 else "on")
                if i % 500 == 499:
                    await asyncio.sleep(0)
            await agent.link.outbox.wait_committed(7 + 10_000)
            assert agent.link.outbox.count == 10_000
            await broker.start()
            async with cloud_client(broker, paths, session=True) as cloud:
                events = await events_until(cloud, 7 + 10_000, after=7, timeout=50)
            assert [e["seq"] for e in events] == list(range(8, 8 + 10_000))
            assert [e["value"] for e in events] == ["off" if i % 2 else "on" for i in range(10_000)]
            async with asyncio.timeout(30):
                await agent.link.outbox.wait_acked(7 + 10_000)
            assert agent.link.outbox.count == 0


async def test_another_hubs_topics_are_refused_by_the_broker(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    mine = "hubs/hub-intruder/"
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        cloud_client(broker, paths) as cloud,
        cloud_client(broker, paths, name="hub-intruder") as intruder,
    ):
        await cloud.subscribe("hubs/#", qos=1)
        await intruder.subscribe(f"hubs/{HUB_ID}/#", qos=1)  # mosquitto grants, then filters
        await intruder.subscribe(mine + "#", qos=1)
        # The intruder writes into the hub's tree, then into its own: only the second arrives.
        await intruder.publish(f"hubs/{HUB_ID}/cmd/req", b'{"type":"command"}', qos=1)
        await intruder.publish(mine + "events", b'{"seq":1}', qos=1)
        async with asyncio.timeout(10):
            first = await anext(aiter(cloud.messages))
        assert str(first.topic) == mine + "events"
        # The cloud writes to the hub's tree, then to the intruder's: it reads only its own.
        await cloud.publish(f"hubs/{HUB_ID}/events", b'{"seq":9}', qos=1)
        await cloud.publish(mine + "cmd/req", b"{}", qos=1)
        async with asyncio.timeout(10):
            while True:
                seen = await anext(aiter(intruder.messages))
                if str(seen.topic) != mine + "events":  # its own publication echoed back
                    break
        assert str(seen.topic) == mine + "cmd/req"


async def test_a_hub_whose_certificate_names_another_hub_is_refused_clearly(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with broker_for(paths, tmp_path / "broker") as broker:
        # The config says one hub id, the certificate another: the broker's ACL refuses its topics.
        config = write_config(tmp_path, paths, broker.url, extra_cloud=MQTT, hub_id="hub-test-0002")
        agent = await build_agent(config, devices=False)
        async with running(agent):
            async with asyncio.timeout(20):
                await agent.link.wait_for(LinkState.AUTH_FAILED)
            error = agent.link.status["last_error"]
            assert "refused" in error and "0x87" in error, error
            assert agent.runtime.facts["cloud"]["state"] == "auth_failed"
            registry = CollectorRegistry()
            registry.register(agent.link.metrics())
            text = generate_latest(registry).decode()
            assert 'hub_cloud_state{protocol="mqtt",state="auth_failed"} 1.0' in text
            assert 'hub_cloud_state{protocol="mqtt",state="connected"} 0.0' in text


async def test_broker_restart_the_hub_reconnects_and_its_will_and_state_are_retained(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with broker_for(paths, tmp_path / "broker") as broker:
        agent = await mqtt_agent(tmp_path, paths, broker)
        async with running(agent):
            await agent.connected()
            await broker.restart()
            async with asyncio.timeout(30):
                while agent.link.connections < 2 or agent.link.state is not LinkState.CONNECTED:
                    await agent.link.wait_for(LinkState.BACKOFF, LinkState.CONNECTING)
                    await agent.link.wait_for(LinkState.CONNECTED)
            async with cloud_client(broker, paths) as cloud:
                await cloud.subscribe(f"hubs/{HUB_ID}/state", qos=1)
                state, _ = await next_json(cloud, f"hubs/{HUB_ID}/state")
                assert state["online"] is True
                await cloud.subscribe(f"hubs/{HUB_ID}/cmd/res", qos=1)
                command = {"type": "command", "id": "after-restart", "device": "zwave-2", "command": "on"}
                await request(cloud, f"hubs/{HUB_ID}/cmd/req", command, None, b"1")
                result, _ = await next_json(cloud, f"hubs/{HUB_ID}/cmd/res")
                assert result["status"] == "ok"
                # The hub dies without a DISCONNECT: the broker publishes its will, retained.
                assert agent.link._mqtt is not None
                sock = agent.link._mqtt._client._client.socket()  # type: ignore[union-attr]
                assert isinstance(sock, socket.socket)
                sock.shutdown(socket.SHUT_RDWR)  # no DISCONNECT: a crash, as the broker sees it
                state, _ = await next_json(cloud, f"hubs/{HUB_ID}/state")
                assert state == {"online": False}
