"""Update triggers from outside: the LAN API routes, `hub-agent update ...`, and owner trust."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub_agent import cli
from hub_agent.commands.info import collect
from hub_agent.config import load_config
from hub_agent.lan.tokens import create_token
from hub_agent.ota import control
from hub_agent.store import STORE_FILE, Database
from hub_core.errors import HubError
from ota.harness import booted, wait_status, write_config
from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _config_with_lan(
    tmp_path: Path, server: RepoServer, repo: TufRepo, ca: UpdateCA
) -> tuple[Path, str, str]:
    config = write_config(tmp_path / "hub", server.url, repo.root_bytes(), ca.ca_file)
    port = _free_port()
    config.write_text(config.read_text() + f'[lan]\nlisten = "127.0.0.1:{port}"\ntls = false\nmdns = false\n')
    data = tmp_path / "hub" / "data"
    data.mkdir(parents=True, exist_ok=True)
    db = Database(data / STORE_FILE)
    try:
        token = (await db.write(create_token("test"))).token
    finally:
        await db.close()
    return config, f"http://127.0.0.1:{port}/api/v1", token


async def _json(response: aiohttp.ClientResponse) -> Any:
    return json.loads(await response.read())


async def test_lan_update_routes(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"bundle" * 100, "1.2.0")
    repo.publish()
    config, api, token = await _config_with_lan(tmp_path, server, repo, test_ca)
    auth = {"Authorization": f"Bearer {token}"}
    async with booted(config) as (agent, ota), aiohttp.ClientSession() as http:
        await asyncio.wait_for(ota.settled.wait(), 10)
        await asyncio.wait_for(agent.parts["lan"].started.wait(), 10)  # type: ignore[attr-defined]
        async with http.get(f"{api}/update") as response:
            assert response.status == 401
        async with http.get(f"{api}/health") as response:
            assert (await _json(response))["update_trust"] == "vendor"
        async with http.get(f"{api}/update", headers=auth) as response:
            body = await _json(response)
            assert response.status == 200
            assert body["current"] == {"version": "0.1.0", "slot": "A"}
            assert body["state"] == "idle" and body["available"] is None
        async with http.post(f"{api}/update/check", headers=auth) as response:
            assert response.status == 202
            assert (await _json(response))["state"] in ("idle", "checking")
        status = await wait_status(ota, lambda s: s["available"] is not None)
        assert status["available"] == {"version": "1.2.0", "length": 600}
        for body, code in ((b"[1]", 422), (b"{", 400), (b'{"version": 5}', 422), (b'{"x": 1}', 422)):
            async with http.post(f"{api}/update/install", headers=auth, data=body) as response:
                assert response.status == code, body
                assert "message" in await _json(response)
        async with http.post(f"{api}/update/install", headers=auth, json={"version": "9.9.9"}) as response:
            assert response.status == 202
        status = await wait_status(ota, lambda s: s["state"] == "failed")
        assert "9.9.9 is not the update on offer" in status["last_error"]
        async with http.post(f"{api}/update/install", headers=auth, json={"version": "1.2.0"}) as response:
            assert response.status == 202
        async with http.post(f"{api}/update/check", headers=auth) as response:
            assert response.status == 409  # one update at a time
        await asyncio.wait_for(agent.exit_requested.wait(), 20)


async def test_cli_status_check_and_trust_needs_the_pairing_window(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.add_target("hub-1.3.0.bundle", b"x" * 10, "1.3.0")
    repo.publish()
    owner_repo = TufRepo(tmp_path / "owner-repo")
    owner_root = tmp_path / "owner-root.json"
    owner_root.write_bytes(owner_repo.root_bytes())
    config, _api, _token = await _config_with_lan(tmp_path, server, repo, test_ca)

    async def run(*args: str) -> int:
        return await asyncio.to_thread(cli.main, ["update", "--config", str(config), *args])

    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        assert await run("check") == 0
        assert "available: 1.3.0 (10 bytes)" in capsys.readouterr().out
        assert await run("--json", "status") == 0
        assert json.loads(capsys.readouterr().out)["available"]["version"] == "1.3.0"
        trust = ("trust", "--repository", server.url, "--root", str(owner_root))
        assert await run(*trust) == 1
        assert "pairing window is closed" in capsys.readouterr().err
        lan: Any = agent.parts["lan"]
        lan.pairing.open(60, lan.clock())
        bad_root = tmp_path / "bad-root.json"
        bad_root.write_text('{"signed": {}}')
        assert await run("trust", "--repository", server.url, "--root", str(bad_root)) == 1
        assert "not TUF root metadata" in capsys.readouterr().err
        with pytest.raises(HubError, match="must be an https://"):
            await asyncio.to_thread(
                control.call,
                control.socket_path(tmp_path / "hub" / "data"),
                {"op": "trust", "repository": "http://evil/", "root": owner_root.read_text()},
            )
        assert await run(*trust) == 0
        assert "trust:     owner" in capsys.readouterr().out
        # The vendor's metadata does not verify under the owner's root: nothing is offered any more.
        assert await run("check") == 1
        assert "update metadata refused" in capsys.readouterr().err
    assert collect(load_config(config))["update_trust"] == "owner"
    assert await run("status") == 0  # agent stopped: read from the state files
    assert "agent not running" in capsys.readouterr().out
