"""S2 inclusion end to end: agent (config with [zwave] security_keys), LAN API, hub, SecureZWaveRadio,
zwave-js's mock S2 lock. The PIN request arrives as an `inclusion` event, the PIN goes through
`POST /api/v1/inclusion/pin`, and the device JSON says `"security"`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from zwave_peer import PEER_DIR, PeerMissing, ZWavePeer, household_node

from hub_agent.agent import Agent
from hub_agent.config import Config, HubSection, LanSection, ZWaveSection
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_agent.runtime import Runtime
from hub_core.model import DeviceAdded, HubEvent, InclusionUpdate, Protocol
from radios.zwave.security.classes import dsk_string
from radios.zwave.security.keystore import load_or_create
from radios.zwave.security.primitives import x25519_keypair
from radios.zwave.security.secure_radio import SecureZWaveRadio

pytestmark = pytest.mark.peer
WAIT = 20.0


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lan-keys") / "zwave-keys.json"
    load_or_create(path)
    return path


@pytest.fixture(scope="module")
def s2_peer(keys_file: Path) -> Iterator[ZWavePeer]:
    peer = ZWavePeer([], launcher=PEER_DIR / "s2_launcher.mjs", args=("--keys", str(keys_file)))
    try:
        peer.start()
    except PeerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()


def lock_node() -> dict[str, Any]:
    node: dict[str, Any] = json.loads(json.dumps(household_node("lock")))
    node["capabilities"]["commandClasses"].append({"ccId": 0x9F, "version": 1})
    node["capabilities"]["securityClasses"] = [0, 1]  # S2 Unauthenticated + Authenticated
    return node


def pin_of(node_id: int) -> str:
    public = x25519_keypair(hashlib.sha256(f"hub-agent mock node {node_id}".encode()).digest())[1]
    return f"{int.from_bytes(public[:2], 'big'):05d}"


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body, headers=self.headers) as response,
        ):
            return response.status, await response.json()


@pytest.fixture
async def hub(
    s2_peer: ZWavePeer, keys_file: Path, tmp_path: Path
) -> AsyncIterator[tuple[Client, Runtime, Path]]:
    s2_peer.reset([])
    data = tmp_path / "data"
    data.mkdir()
    (data / "zwave-keys.json").write_bytes(keys_file.read_bytes())
    (data / "zwave-keys.json").chmod(0o600)
    config = Config(
        path=tmp_path / "hub.toml",
        hub=HubSection(id="hub-s2", data_dir=data),
        zwave=ZWaveSection(port=s2_peer.url, security_keys=data / "zwave-keys.json"),
        lan=LanSection(host="127.0.0.1", port=0, tls=False, mdns=False),
    )
    agent = Agent(config)
    runtime = await agent.start()
    try:
        server = agent.parts["lan"]
        assert isinstance(server, LanServer)
        await asyncio.wait_for(server.started.wait(), 15)
        token = (await runtime.db.write(create_token("s2-test"))).token
        await server.reload_tokens()
        yield Client(f"http://127.0.0.1:{server.bound_port}", token), runtime, data
    finally:
        await agent.stop()
    assert s2_peer.errors() == []


async def next_event(events: AsyncIterator[HubEvent], kind: type, **match: Any) -> Any:
    async with asyncio.timeout(WAIT):
        async for event in events:
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event
    raise AssertionError("event stream ended")


async def test_the_pin_goes_through_the_lan_api_and_the_device_says_its_security(
    hub: tuple[Client, Runtime, Path], s2_peer: ZWavePeer
) -> None:
    client, runtime, data = hub
    events = runtime.hub.bus.subscribe("s2-test")
    status, answer = await client.call("POST", "/api/v1/inclusion/pin", {"pin": "12345"})
    assert (status, answer["error"]) == (422, "invalid") and "waiting" in answer["message"]
    status, answer = await client.call(
        "POST", "/api/v1/inclusion", {"protocol": "zwave", "security": "maybe"}
    )
    assert status == 422 and answer["field"] == "security"

    await s2_peer.include(lock_node())
    status, _ = await client.call(
        "POST", "/api/v1/inclusion", {"protocol": "zwave", "seconds": 60, "security": "auto"}
    )
    assert status == 200
    required = await next_event(events, InclusionUpdate, state="pin_required")
    assert required.to_json()["device"] == "zwave-5" and str(required.dsk).startswith("xxxxx-")
    for bad in ({"pin": "1234"}, {"pin": 12345}, {"pin": "99999"}, {"code": "12345"}):
        status, answer = await client.call("POST", "/api/v1/inclusion/pin", bad)
        assert (status, answer["field"]) == (422, "pin"), bad
    status, answer = await client.call("POST", "/api/v1/inclusion/pin", {"pin": pin_of(5)})
    assert (status, answer) == (200, {"status": "ok"})
    secured = await next_event(events, InclusionUpdate, state="secured")
    assert secured.security == "S2_Authenticated"
    await next_event(events, DeviceAdded)
    status, device = await client.call("GET", "/api/v1/devices/zwave-5")
    assert status == 200 and device["security"] == "S2_Authenticated"
    keys = data / "zwave-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    events.close()
    await client.call("DELETE", "/api/v1/inclusion", {"protocol": "zwave"})


async def test_the_provisioning_list_over_the_lan_api(hub: tuple[Client, Runtime, Path]) -> None:
    client, _, data = hub
    assert await client.call("GET", "/api/v1/zwave/provisioning") == (
        200,
        {"entries": [], "smart_start": False},
    )
    dsk = "12345-00001-00002-00003-00004-00005-00006-00007"
    status, entry = await client.call("POST", "/api/v1/zwave/provisioning", {"dsk": dsk, "name": "door"})
    assert (status, entry) == (201, {"dsk": dsk, "name": "door"})
    assert (await client.call("GET", "/api/v1/zwave/provisioning"))[1]["smart_start"] is True
    for bad, field in (({"dsk": "12345"}, "dsk"), ({"qr": "9001"}, "qr")):
        status, answer = await client.call("POST", "/api/v1/zwave/provisioning", bad)
        assert (status, answer.get("field")) == (422, field), answer
    status, answer = await client.call("POST", "/api/v1/zwave/provisioning", {"qr": "1", "dsk": dsk})
    assert status == 422
    assert (await client.call("GET", "/api/v1/zwave/provisioning"))[1]["entries"] == [
        {"dsk": dsk, "name": "door"}
    ]
    assert stat.S_IMODE((data / "zwave-provisioning.json").stat().st_mode) == 0o600
    assert (await client.call("DELETE", f"/api/v1/zwave/provisioning/{dsk}"))[0] == 200
    assert (await client.call("DELETE", f"/api/v1/zwave/provisioning/{dsk}"))[0] == 404
    assert (await client.call("GET", "/api/v1/zwave/provisioning"))[1]["smart_start"] is False


async def test_a_node_provisioned_over_the_lan_api_joins_by_itself(
    hub: tuple[Client, Runtime, Path], s2_peer: ZWavePeer
) -> None:
    client, runtime, _ = hub
    events = runtime.hub.bus.subscribe("smartstart-test")
    public = x25519_keypair(hashlib.sha256(b"hub-agent mock node 5").digest())[1]
    dsk = dsk_string(public[:16])
    status, _ = await client.call("POST", "/api/v1/zwave/provisioning", {"dsk": dsk, "name": "front door"})
    assert status == 201
    node = lock_node() | {"id": 5}
    assert (await s2_peer.acommand("announce", node=node))["delivered"]
    joined = await next_event(events, InclusionUpdate, state="smart_start")
    assert joined.to_json()["device"] == "zwave-5" and joined.to_json()["dsk"] == "xxxxx" + dsk[5:]
    await next_event(events, DeviceAdded)
    status, device = await client.call("GET", "/api/v1/devices/zwave-5")
    assert status == 200 and device["security"] == "S2_Authenticated"
    events.close()


async def test_security_none_holds_for_one_inclusion_request_only(hub: tuple[Client, Runtime, Path]) -> None:
    client, runtime, _ = hub
    radio = runtime.hub.radio_for(Protocol.ZWAVE)
    assert isinstance(radio, SecureZWaveRadio)
    body = {"protocol": "zwave", "seconds": 5, "security": "none"}
    assert (await client.call("POST", "/api/v1/inclusion", body))[0] == 200
    assert radio.security.policy == "none"
    assert (await client.call("POST", "/api/v1/inclusion", {"protocol": "zwave", "seconds": 5}))[0] == 200
    assert radio.security.policy == "auto"
    await client.call("DELETE", "/api/v1/inclusion", {"protocol": "zwave"})
