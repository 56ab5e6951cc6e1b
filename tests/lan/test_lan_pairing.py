"""Pairing (the link button), the token CLI, revocation and the failed-attempt limiter, end to end.

`hub-agent pair` and `hub-agent token` run through the real CLI entry point against the running
server's control socket and the store file, in a worker thread (they are blocking programs).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub_agent.cli import main as cli
from hub_agent.lan import control
from hub_agent.lan.pairing import FailureLimiter


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def run_cli(*argv: str) -> int:
    """Run `hub-agent ARGV...` as the user would, off the event loop the server runs on."""

    def run() -> int:
        try:
            return cli(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            return int(exc.code or 0)

    return await asyncio.to_thread(run)


async def test_pair_is_403_until_the_button_then_200_until_the_window_ends(lan: Any, capsys: Any) -> None:
    async with lan.session() as session:
        url = lan.url + "/api/v1/pair"
        async with session.post(url, json={"name": "phone"}) as response:
            answer = await response.json()
            assert response.status == 403
            assert answer["error"] == "pairing_closed"
            assert "hub-agent pair" in answer["message"]

        assert await run_cli("pair", "--config", str(lan.config_file)) == 0
        assert "pairing open for 60 s" in capsys.readouterr().out

        async with session.post(url, json={"name": "phone"}) as response:
            paired = await response.json()
            assert response.status == 200, paired
        assert paired["name"] == "phone"
        assert re.fullmatch(r"[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", paired["token"])
        async with session.get(lan.url + "/api/v1/devices", headers=auth(paired["token"])) as response:
            assert response.status == 200

        lan.advance(59.9)
        async with session.post(url) as response:
            second = await response.json()
            assert response.status == 200  # still inside the 60 s window; no body: a default name
            assert second["name"].startswith("paired from 127.0.0.1")
        lan.advance(0.2)
        async with session.post(url, json={"name": "late"}) as response:
            assert response.status == 403
        # Tokens from the window keep working after it closes.
        async with session.get(lan.url + "/api/v1/devices", headers=auth(paired["token"])) as response:
            assert response.status == 200


async def test_pair_from_a_separate_process(lan: Any) -> None:
    """`hub-agent pair` as its own process (what a GPIO hook runs), against the running server."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub_agent",
        "pair",
        "--config",
        str(lan.config_file),
        "--seconds",
        "45",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("pairing open for 45 s")
    assert lan.server.pairing.remaining(lan.clock[0]) == 45
    async with (
        lan.session() as session,
        session.post(lan.url + "/api/v1/pair", json={"name": "gpio"}) as response,
    ):
        assert response.status == 200


async def test_pair_window_can_be_closed_early_and_names_are_checked(lan: Any) -> None:
    assert await run_cli("pair", "--config", str(lan.config_file), "--seconds", "30") == 0
    async with lan.session() as session:
        url = lan.url + "/api/v1/pair"
        for body, words in [
            ({"name": ""}, "must not be empty"),
            ({"name": "x" * 65}, "at most 64"),
            ({"name": 7}, "must be a string"),
            ({"nom": "x"}, "unknown field 'nom'"),
        ]:
            async with session.post(url, json=body) as response:
                answer = await response.json()
                assert response.status == 422, answer
                assert words in answer["message"]
        assert await run_cli("pair", "--config", str(lan.config_file), "--seconds", "0") == 0
        async with session.post(url, json={"name": "ok"}) as response:
            assert response.status == 403
    assert lan.server.pairing.paired == 0


async def test_pair_cli_when_the_agent_is_not_running(tmp_path: Any, capsys: Any) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{tmp_path / "data"}"\n[lan]\nlisten = "127.0.0.1:1"\n')
    assert await run_cli("pair", "--config", str(config)) == 1
    err = capsys.readouterr().err
    assert "the agent is not running" in err and "Traceback" not in err
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{tmp_path / "data"}"\n')
    assert await run_cli("pair", "--config", str(config)) == 1
    assert "LAN API is disabled" in capsys.readouterr().err
    assert await run_cli("pair", "--config", str(config), "--seconds", "601") == 2


async def test_control_socket_is_private_and_rejects_garbage(lan: Any) -> None:
    path = lan.server.control_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for line, words in [
        (b"not json\n", "not JSON"),
        (b'{"op": "reboot"}\n', "unknown control op 'reboot'"),
        (b'{"op": "pair", "seconds": -1}\n', "between 0 and 600"),
        (b"x" * 5000 + b"\n", "too long"),
    ]:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(line)
        await writer.drain()
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
        assert words in reply.decode(), (line[:20], reply)
    assert not lan.server.pairing.is_open(lan.clock[0])


def _python_for_nobody() -> str | None:
    """A system Python another user may run (the venv's may live under /root)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(candidate).resolve()
        chain = [path, *path.parents]
        if path.exists() and all(p.stat().st_mode & 0o001 for p in chain):
            return str(path)
    return None


OTHER_USER_PYTHON = _python_for_nobody()


@pytest.mark.skipif(
    os.geteuid() != 0 or OTHER_USER_PYTHON is None,
    reason="needs root and a system python3 to act as another user (CI runs as root on Debian)",
)
async def test_control_socket_refuses_other_users_even_if_its_mode_is_loosened() -> None:
    calls: list[control.Request] = []

    async def answer(request: control.Request) -> dict[str, Any]:
        calls.append(request)
        return {"ok": True, "seconds": 60}

    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        path = Path(tmp) / "lan.sock"
        server = control.ControlServer(path, answer)
        await server.start()
        try:
            assert OTHER_USER_PYTHON is not None
            os.chmod(path, 0o666)  # a mistake an admin could make
            client = (
                "import socket, sys\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                "s.connect(sys.argv[1])\n"
                's.sendall(b\'{"op": "pair", "seconds": 60}\\n\')\n'
                "print(s.recv(4096).decode())\n"
            )
            process = await asyncio.create_subprocess_exec(
                OTHER_USER_PYTHON,
                "-c",
                client,
                str(path),
                user=65534,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), 30)
            assert process.returncode == 0, err.decode()
            assert json.loads(out) == {"ok": False, "error": "permission denied"}
            assert calls == []
        finally:
            await server.close()


async def test_a_second_agent_cannot_take_over_the_control_socket(lan: Any) -> None:
    other = control.ControlServer(lan.server.control_path, lambda request: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(control.ControlSocketInUse, match="already serving"):
        await other.start()
    # ...but a stale socket file left by a crash is replaced.
    stale = lan.data_dir / "stale.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(stale))
    sock.close()

    async def answer(request: control.Request) -> dict[str, Any]:
        return {"ok": True, "seconds": 1}

    replacement = control.ControlServer(stale, answer)
    await replacement.start()
    try:
        reply = await asyncio.to_thread(control.call, stale, control.PairRequest(1))
        assert reply == {"ok": True, "seconds": 1}
    finally:
        await replacement.close()
    assert not stale.exists()


async def test_token_cli_create_list_revoke_takes_effect_at_once(lan: Any, capsys: Any) -> None:
    config = str(lan.config_file)
    assert await run_cli("token", "create", "--config", config, "--name", "kitchen tablet") == 0
    out, err = capsys.readouterr()
    token = out.strip()
    token_id = token.split(".")[0]
    assert f"created token {token_id} (kitchen tablet)" in err

    async with lan.session() as session:
        # The running agent was told over the control socket: no restart, no waiting.
        async with session.get(lan.url + "/api/v1/devices", headers=auth(token)) as response:
            assert response.status == 200
        async with session.ws_connect(lan.url + "/api/v1/events", headers=auth(token)) as ws:
            assert await run_cli("token", "list", "--config", config) == 0
            listing = capsys.readouterr().out
            assert token_id in listing and "kitchen tablet" in listing
            assert token.split(".")[1] not in listing  # never the secret

            assert await run_cli("token", "revoke", token_id, "--config", config) == 0
            assert "(the running agent dropped it)" in capsys.readouterr().out
            # The open events stream of the revoked token is closed with 1008 (policy violation).
            message = await asyncio.wait_for(ws.receive(), 5)
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == 1008, message
        async with session.get(lan.url + "/api/v1/devices", headers=auth(token)) as response:
            assert response.status == 401

    assert await run_cli("token", "revoke", token_id, "--config", config) == 1
    assert f"no token '{token_id}'" in capsys.readouterr().err
    assert await run_cli("token", "revoke", "../../etc", "--config", config) == 2
    assert await run_cli("token", "list", "--json", "--config", config) == 0
    assert capsys.readouterr().out.strip() == "[]"


async def test_token_cli_works_without_a_running_agent(tmp_path: Any, capsys: Any) -> None:
    data = tmp_path / "data"
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\nid = "h"\ndata_dir = "{data}"\n[lan]\nlisten = "127.0.0.1:1"\n')
    assert await run_cli("token", "create", "--config", str(config)) == 0
    token = capsys.readouterr().out.strip()
    assert await run_cli("token", "list", "--config", str(config)) == 0
    assert token.split(".")[0] in capsys.readouterr().out
    assert await run_cli("token", "create", "--config", str(config), "--name", " ") == 2
    # Only the hash is stored.
    raw = (data / "hub.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in data.iterdir() if p.name.startswith("hub.sqlite3-")
    )
    assert token.encode() not in raw
    assert token.split(".")[1].encode() not in raw


async def test_failed_attempts_are_rate_limited_per_client(start_lan: Any) -> None:
    async with start_lan(limiter=FailureLimiter(max_failures=3, period=60)) as lan:
        good = await lan.new_token()
        bad = "0123456789ab." + "B" * 43
        async with lan.session() as session:
            url = lan.url + "/api/v1/devices"
            for _ in range(3):
                async with session.get(url, headers=auth(bad)) as response:
                    assert response.status == 401
            async with session.get(url, headers=auth(bad)) as response:
                assert response.status == 429
                assert response.headers["Retry-After"] == "60"
                assert (await response.json())["error"] == "rate_limited"
            # While locked out even a good token waits: otherwise a guesser would learn when it hit.
            async with session.get(url, headers=auth(good)) as response:
                assert response.status == 429
            async with session.post(lan.url + "/api/v1/pair") as response:
                assert response.status == 429
            lan.advance(60.1)
            async with session.get(url, headers=auth(good)) as response:
                assert response.status == 200
            # Pairing outside the window counts as a failed attempt too.
            for _ in range(3):
                async with session.post(lan.url + "/api/v1/pair") as response:
                    assert response.status == 403
            async with session.get(url, headers=auth(good)) as response:
                assert response.status == 429
            async with session.get(lan.url + "/metrics", headers=auth(good)) as response:
                assert response.status == 429
        assert lan.server.metrics.registry.get_sample_value("hub_lan_auth_failures_total") == 6


async def test_last_used_is_recorded(lan: Any, token: str) -> None:
    from hub_agent.lan.tokens import list_tokens

    async with (
        lan.session(headers=auth(token)) as session,
        session.get(lan.url + "/api/v1/devices") as response,
    ):
        assert response.status == 200
    infos = await lan.runtime.db.read(list_tokens)
    assert infos[0].last_used is not None


def test_cert_key_is_private(tmp_path: Any) -> None:
    from hub_agent.lan import tls

    cert = tls.ensure_certificate(tmp_path, "hub-x")
    assert stat.S_IMODE(os.stat(cert.key_path).st_mode) == 0o600


async def test_a_data_dir_too_deep_for_a_unix_socket_still_serves_the_api(
    start_lan: Any, tmp_path: Path, caplog: Any
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    async with start_lan(path=deep) as lan:
        token = await lan.new_token()
        async with (
            lan.session(headers=auth(token)) as session,
            session.get(lan.url + "/api/v1/devices") as response,
        ):
            assert response.status == 200
        assert "control socket unavailable" in caplog.text
        assert not lan.server.control_path.exists()
