"""The cloud link over MQTT 5 on `wss://` (MQTT over a TLS WebSocket) against the real mosquitto.

Debian's mosquitto cannot serve WebSockets, so a TLS WebSocket bridge (wsbridge.py, mutual TLS,
subprotocol `mqtt`) stands in front of the broker's MQTT/TLS listener and presents the hub's own CN
there: the broker's identity-as-username and ACL still apply. The hub is the real agent core with
`[cloud] protocol = "mqtt"` and a `wss://127.0.0.1:PORT/<path>` URL; the cloud is an aiomqtt client
on the broker's TLS listener.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from pathlib import Path

from mosquitto import broker_for, client_identity
from paho.mqtt.client import _WebsocketWrapper
from test_cloud_harness import HUB_ID, build_agent, pki_for, running, write_config
from test_cloud_mqtt import MQTT, cloud_client, events_until, next_json, request
from wsbridge import SUBPROTOCOL, Seen, bridge_for

from hub_agent.cloud.devcloud import make_dev_pki
from hub_agent.cloud.link import LinkState


async def test_wss_commands_round_trip_and_events_are_acknowledged(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    base = f"hubs/{HUB_ID}/"
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(
            paths, broker, lambda cn: client_identity(paths, cn), path="/fleet/v1/mqtt?region=eu"
        ) as bridge,
        cloud_client(broker, paths) as cloud,
    ):
        await cloud.subscribe(base + "#", qos=1)
        agent = await build_agent(write_config(tmp_path, paths, bridge.url, extra_cloud=MQTT))
        async with running(agent):
            await agent.connected()
            # The hub spoke MQTT over a WebSocket on the URL's path and query, subprotocol mqtt, as itself.
            assert bridge.seen == [Seen("/fleet/v1/mqtt?region=eu", SUBPROTOCOL, HUB_ID)]
            # Small frames go out at once (aiomqtt's socket options skip a WebSocket's socket; without
            # TCP_NODELAY each command took ~48 ms instead of ~1.6 ms, bench_cloud_mqtt_wss.py).
            assert agent.link._mqtt is not None and agent.link._mqtt._client is not None
            wrapper = agent.link._mqtt._client._client.socket()
            assert isinstance(wrapper, _WebsocketWrapper)
            assert wrapper._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            state, _ = await next_json(cloud, base + "state")
            assert state["online"] is True
            events = await events_until(cloud, 7)
            assert [e["type"] for e in events] == ["device_added"] * 7
            async with asyncio.timeout(10):
                await agent.link.outbox.wait_acked(7)  # the broker's PUBACKs came back over the bridge
            assert agent.link.outbox.count == 0
            command = {"type": "command", "id": "w-1", "device": "zwave-2", "command": "on"}
            await request(cloud, base + "cmd/req", command, base + "cmd/res/app-3", b"\x02wss")
            result, props = await next_json(cloud, base + "cmd/res/app-3")
            assert (result["type"], result["id"], result["status"]) == ("command_result", "w-1", "ok")
            assert props.CorrelationData == b"\x02wss"
            assert [c.name for c in agent.radio.commands] == ["on"]
            # More events after the session is up: published, PUBACKed, acknowledged in order.
            agent.radio.report(agent.hub.devices()[0].id, "switch", "off")
            later = await events_until(cloud, 9, after=7)
            assert [e["seq"] for e in later] == [8, 9]  # the command's state change, then the report
            async with asyncio.timeout(10):
                await agent.link.outbox.wait_acked(9)
            assert agent.link.connections == 1


async def test_wss_hub_whose_certificate_names_another_hub_is_refused_by_the_broker(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(paths, broker, lambda cn: client_identity(paths, cn)) as bridge,
    ):
        # The certificate says hub-test-0001, the config another id: the broker's ACL refuses it.
        config = write_config(tmp_path, paths, bridge.url, extra_cloud=MQTT, hub_id="hub-test-0002")
        agent = await build_agent(config, devices=False)
        async with running(agent):
            async with asyncio.timeout(20):
                await agent.link.wait_for(LinkState.AUTH_FAILED)
            error = agent.link.status["last_error"]
            assert "refused" in error and "0x87" in error, error
            assert [s.identity for s in bridge.seen] == [HUB_ID]


async def test_wss_the_hub_reconnects_when_the_websocket_is_closed_and_resends(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    base = f"hubs/{HUB_ID}/"
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(paths, broker, lambda cn: client_identity(paths, cn)) as bridge,
        cloud_client(broker, paths) as cloud,
    ):
        await cloud.subscribe(base + "events", qos=1)
        agent = await build_agent(write_config(tmp_path, paths, bridge.url, extra_cloud=MQTT))
        async with running(agent):
            await agent.connected()
            await events_until(cloud, 7)
            await bridge.drop()
            async with asyncio.timeout(30):
                while agent.link.connections < 2 or agent.link.state is not LinkState.CONNECTED:
                    await agent.link.wait_for(LinkState.BACKOFF, LinkState.CONNECTING)
                    await agent.link.wait_for(LinkState.CONNECTED)
            agent.radio.report(agent.hub.devices()[0].id, "switch", "on")
            later = await events_until(cloud, 8, after=7)
            assert [e["seq"] for e in later] == [8]
            async with asyncio.timeout(10):
                await agent.link.outbox.wait_acked(8)
            assert [s.path for s in bridge.seen] == ["/mqtt", "/mqtt"]


async def test_wss_a_burst_of_requests_and_events_many_mqtt_packets_per_websocket_frame(
    tmp_path: Path,
) -> None:
    """The bridge packs whatever the broker sent (up to 64 KiB) into one frame: the hub must unpack it."""
    paths = pki_for(tmp_path)
    base = f"hubs/{HUB_ID}/"
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(paths, broker, lambda cn: client_identity(paths, cn)) as bridge,
        cloud_client(broker, paths) as cloud,
    ):
        await cloud.subscribe(base + "events", qos=1)
        await cloud.subscribe(base + "cmd/res", qos=1)
        agent = await build_agent(write_config(tmp_path, paths, bridge.url, extra_cloud=MQTT))
        async with running(agent):
            await agent.connected()
            await events_until(cloud, 7)
            device = agent.hub.devices()[0].id
            for i in range(1000):
                agent.radio.report(device, "switch", "off" if i % 2 else "on")
            for i in range(100):
                command = {"type": "command", "id": f"b-{i}", "device": "zwave-2", "command": "on"}
                await request(cloud, base + "cmd/req", command, None, str(i).encode())
            answered: dict[str, str] = {}
            top = 7
            async with asyncio.timeout(30):
                async for message in cloud.messages:
                    assert isinstance(message.payload, bytes)
                    frame = json.loads(message.payload)
                    if str(message.topic).endswith("/cmd/res"):
                        assert frame["id"] not in answered, frame  # answered exactly once
                        answered[frame["id"]] = frame.get("status") or frame.get("error", "")
                    elif frame["seq"] > top:
                        assert frame["seq"] == top + 1, f"gap after {top}: {frame['seq']}"
                        top = frame["seq"]
                    if len(answered) == 100 and top >= 7 + 1000:
                        break
            assert sorted(answered) == sorted(f"b-{i}" for i in range(100))
            assert set(answered.values()) <= {"ok", "rate_limited", "busy"}, set(answered.values())
            assert "ok" in answered.values()
            async with asyncio.timeout(10):
                await agent.link.outbox.wait_acked(top)
            assert agent.link.connections == 1
            assert bridge.largest_down > 400  # several MQTT packets (a PUBLISH is ~130 bytes) in one frame


async def test_wss_a_websocket_server_from_another_ca_is_refused_before_any_mqtt(tmp_path: Path) -> None:
    paths = pki_for(tmp_path)
    impostor = make_dev_pki(tmp_path / "impostor", HUB_ID)
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(paths, broker, lambda cn: client_identity(paths, cn), server=impostor) as bridge,
    ):
        agent = await build_agent(write_config(tmp_path, paths, bridge.url, extra_cloud=MQTT), devices=False)
        async with running(agent):
            async with asyncio.timeout(20):
                await agent.link.wait_for(LinkState.AUTH_FAILED)
            error = agent.link.status["last_error"]
            assert "certificate verify failed" in error, error
            assert bridge.seen == []  # no WebSocket upgrade, let alone MQTT, reached the impostor
            assert agent.link.connections == 0
        # A socket left open by the failed handshake would warn (an error here) when collected.
        gc.collect()


async def test_wss_a_websocket_upgrade_refused_on_a_wrong_path_backs_off_without_leaking(
    tmp_path: Path,
) -> None:
    paths = pki_for(tmp_path)
    async with (
        broker_for(paths, tmp_path / "broker") as broker,
        bridge_for(paths, broker, lambda cn: client_identity(paths, cn)) as bridge,
    ):
        url = bridge.url.replace("/mqtt", "/wrong")
        agent = await build_agent(write_config(tmp_path, paths, url, extra_cloud=MQTT), devices=False)
        async with running(agent):
            async with asyncio.timeout(20):
                await agent.link.wait_for(LinkState.BACKOFF)
            assert "WebSocket handshake" in agent.link.status["last_error"], agent.link.status
            assert bridge.refused[0] == "/wrong"
            assert bridge.seen == []
            assert agent.link.connections == 0
        gc.collect()  # the socket of the refused upgrade is closed, not left to warn here
