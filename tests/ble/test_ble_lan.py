"""`POST /api/v1/devices/{id}/key` end to end: agent, LAN API, hub, BLE radio over the simulated air."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_agent.agent import Agent
from hub_agent.config import BleSection, Config, HubSection, LanSection
from hub_agent.lan.ble_routes import parse_key_body
from hub_agent.lan.errors import ApiError
from hub_agent.lan.server import LanServer
from hub_agent.lan.tokens import create_token
from hub_core.model import Protocol
from radios.sim.ble_radio import CLIMATE, CONTACT, DEMO_KEY, SimBleRadio

CONTACT_ID = "ble-" + CONTACT.replace(":", "").lower()
CLIMATE_ID = "ble-" + CLIMATE.replace(":", "").lower()


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session:
            kwargs: dict[str, Any] = {"headers": dict(self.headers)}
            if raw is not None:
                kwargs["data"] = raw
                kwargs["headers"]["Content-Type"] = "application/json"
            elif body is not None:
                kwargs["json"] = body
            async with session.request(method, self.url + path, **kwargs) as response:
                return response.status, await response.json()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[Client, SimBleRadio, Path]]:
    config = Config(
        path=tmp_path / "hub.toml",
        hub=HubSection(id="hub-ble", data_dir=tmp_path / "data"),
        ble=BleSection(adapter="sim"),
        lan=LanSection(host="127.0.0.1", port=0, tls=False, mdns=False),
    )
    agent = Agent(config)
    runtime = await agent.start()
    try:
        server = agent.parts["lan"]
        assert isinstance(server, LanServer)
        await asyncio.wait_for(server.started.wait(), 15)
        token = (await runtime.db.write(create_token("ble-test"))).token
        await server.reload_tokens()
        radio = runtime.hub.radios[Protocol.BLE]
        assert isinstance(radio, SimBleRadio)
        await runtime.hub.set_inclusion(Protocol.BLE, 30)  # the household advertises once and joins
        yield Client(f"http://127.0.0.1:{server.bound_port}", token), radio, tmp_path / "data"
    finally:
        await agent.stop()


async def test_encrypted_device_shows_needs_key_until_its_key_is_set(hub) -> None:
    client, radio, data_dir = hub
    status, device = await client.call("GET", f"/api/v1/devices/{CONTACT_ID}")
    assert status == 200 and device["needs_key"] is True and device["state"] == {}
    status, plain = await client.call("GET", f"/api/v1/devices/{CLIMATE_ID}")
    assert "needs_key" not in plain and plain["state"]["battery"] == 87

    status, answer = await client.call("POST", f"/api/v1/devices/{CONTACT_ID}/key", {"key": "00" * 16})
    assert status == 422 and answer["error"] == "wrong_key" and answer["field"] == "key"
    assert CONTACT_ID in answer["message"]

    status, answer = await client.call("POST", f"/api/v1/devices/{CONTACT_ID}/key", {"key": DEMO_KEY.hex()})
    assert (status, answer) == (200, {"status": "ok", "device": CONTACT_ID, "needs_key": False})
    status, device = await client.call("GET", f"/api/v1/devices/{CONTACT_ID}")
    assert "needs_key" not in device and device["state"]["battery"] == 64
    assert device["state"]["contact"] in ("open", "closed")
    assert stat.S_IMODE((data_dir / "ble-keys.json").stat().st_mode) == 0o600

    radio.advertise_all()  # the next advertisement decrypts with the stored key
    assert radio.refused == {}


@pytest.mark.parametrize(
    ("path_id", "body", "raw", "status", "error"),
    [
        (CONTACT_ID, {"key": "xyz"}, None, 422, "invalid"),
        (CONTACT_ID, {"key": "00" * 15}, None, 422, "invalid"),
        (CONTACT_ID, {"key": 5}, None, 422, "invalid"),
        (CONTACT_ID, {"key": "00" * 16, "extra": 1}, None, 422, "invalid"),
        (CONTACT_ID, None, b"{not json", 400, "bad_request"),
        (CONTACT_ID, None, b'{"key": "' + b"0" * 400 + b'"}', 413, "too_large"),
        ("ble-000000000000", {"key": "00" * 16}, None, 404, "unknown_device"),
    ],
)
async def test_bad_key_requests_get_clear_errors(hub, path_id, body, raw, status, error) -> None:
    client, _, _ = hub
    got, answer = await client.call("POST", f"/api/v1/devices/{path_id}/key", body, raw)
    assert (got, answer["error"]) == (status, error)
    assert answer["message"]


@settings(max_examples=300, deadline=None)
@given(
    raw=st.one_of(st.binary(max_size=300), st.from_regex(r'\{"key": *"[0-9a-fA-F]{0,40}"\}').map(str.encode))
)
def test_fuzz_key_bodies_give_a_key_or_a_documented_error(raw: bytes) -> None:
    try:
        key = parse_key_body(raw)
    except ApiError as exc:
        assert (exc.status, exc.code) in {(400, "bad_request"), (413, "too_large"), (422, "invalid")}
        assert exc.message
    else:
        assert len(key) == 16
