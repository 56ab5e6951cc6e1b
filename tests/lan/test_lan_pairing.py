"""Pairing (the link button), the token CLI, revocation and the failed-attempt limiter, end to end.

`hub-agent pair` and `hub-agent token` run through the real CLI entry point against the running
server's control socket and the store file, in a worker thread (they are blocking programs).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import sqlite3
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_agent.cli import main as cli
from hub_agent.lan import control
from hub_agent.lan.access import PAIRING_NOTICE, host_allowed, hub_names, mdns_label, origin_allowed
from hub_agent.lan.mdns import Advertisement
from hub_agent.lan.pairing import FailureLimiter, PairingWindow
from hub_agent.lan.tokens import MAX_TOKENS, create_token, hash_token, list_tokens
from hub_agent.store import STORE_FILE
from hub_agent.store.schema import MIGRATIONS
from hub_core.model import HubEvent, Notification


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


def printed_code(out: str) -> str:
    """The pairing code `hub-agent pair` printed."""
    match = re.search(r"pairing code: (\d{6})\b", out)
    assert match, out
    return match.group(1)


async def test_pair_is_403_until_the_button_then_one_token_per_press(lan: Any, capsys: Any) -> None:
    async with lan.session() as session:
        url = lan.url + "/api/v1/pair"
        async with session.post(url, json={"name": "phone"}) as response:
            answer = await response.json()
            assert response.status == 403
            assert answer["error"] == "pairing_closed"
            assert "hub-agent pair" in answer["message"]

        assert await run_cli("pair", "--config", str(lan.config_file)) == 0
        out = capsys.readouterr().out
        assert "pairing open for 60 s" in out
        code = printed_code(out)

        lan.advance(59.9)  # the code works until the window's end
        async with session.post(url, json={"name": "phone", "code": code}) as response:
            paired = await response.json()
            assert response.status == 200, paired
        assert paired["name"] == "phone" and paired["owner"] is True  # the first token is the owner
        assert re.fullmatch(r"[0-9a-f]{12}\.[A-Za-z0-9_-]{43}", paired["token"])
        async with session.get(lan.url + "/api/v1/devices", headers=auth(paired["token"])) as response:
            assert response.status == 200

        # One token per press: the same code a second time finds the window closed.
        async with session.post(url, json={"code": code}) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "pairing_closed"

        assert await run_cli("pair", "--config", str(lan.config_file)) == 0
        second_code = printed_code(capsys.readouterr().out)
        async with session.post(url, json={"code": second_code}) as response:
            second = await response.json()
            assert response.status == 200  # no name: a default one; not the owner any more
            assert second["name"].startswith("paired from 127.0.0.1") and second["owner"] is False
        assert await run_cli("pair", "--config", str(lan.config_file)) == 0
        late = printed_code(capsys.readouterr().out)
        lan.advance(60.1)
        async with session.post(url, json={"name": "late", "code": late}) as response:
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
    body = {"name": "gpio", "code": printed_code(out.decode())}
    async with lan.session() as session, session.post(lan.url + "/api/v1/pair", json=body) as response:
        assert response.status == 200


async def test_pair_window_can_be_closed_early_and_names_are_checked(lan: Any, capsys: Any) -> None:
    assert await run_cli("pair", "--config", str(lan.config_file), "--seconds", "30") == 0
    code = printed_code(capsys.readouterr().out)
    async with lan.session() as session:
        url = lan.url + "/api/v1/pair"
        for body, words in [
            ({"name": "", "code": code}, "must not be empty"),
            ({"name": "x" * 65, "code": code}, "at most 64"),
            ({"name": 7, "code": code}, "must be a string"),
            ({"nom": "x", "code": code}, "unknown field 'nom'"),
        ]:
            async with session.post(url, json=body) as response:
                answer = await response.json()
                assert response.status == 422, answer
                assert words in answer["message"]
        assert await run_cli("pair", "--config", str(lan.config_file), "--seconds", "0") == 0
        async with session.post(url, json={"name": "ok", "code": code}) as response:
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
    assert f"created owner token {token_id} (kitchen tablet)" in err  # the hub's first token

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
            async with session.post(lan.url + "/api/v1/pair", json={}) as response:
                assert response.status == 429
            lan.advance(60.1)
            async with session.get(url, headers=auth(good)) as response:
                assert response.status == 200
            # Pairing outside the window counts as a failed attempt too.
            for _ in range(3):
                async with session.post(lan.url + "/api/v1/pair", json={}) as response:
                    assert response.status == 403
            async with session.get(url, headers=auth(good)) as response:
                assert response.status == 429
            async with session.get(lan.url + "/metrics", headers=auth(good)) as response:
                assert response.status == 429
        assert lan.server.metrics.registry.get_sample_value("hub_lan_auth_failures_total") == 6


async def test_last_used_is_recorded(lan: Any, token: str) -> None:
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


# --- an attacker on the LAN (issue 18.1, 15.5) against the real server -------------------------------


async def open_window(lan: Any, seconds: float = 60) -> str:
    """Press the button through the control socket, as `hub-agent pair` does; the window's code."""
    reply = await asyncio.to_thread(control.call, lan.server.control_path, control.PairRequest(seconds))
    return str(reply["code"])


def pairing_notices(events: list[HubEvent]) -> list[str]:
    return [e.message for e in events if isinstance(e, Notification) and e.rule == PAIRING_NOTICE]


@pytest.mark.parametrize("tls_on", [False, True])
async def test_a_neighbour_polling_pair_never_gets_a_token(start_lan: Any, tls_on: bool) -> None:
    """The finding: with the window open, unauthenticated polls minted tokens. Now they need the code."""
    async with start_lan(tls_on=tls_on) as lan:
        events: list[HubEvent] = []
        lan.runtime.bus.add_handler(events.append)
        code = await open_window(lan)
        async with lan.session() as session:
            url = lan.url + "/api/v1/pair"
            guesses = [{}, {"code": ""}, {"code": 123456}, {"code": "000000"}, {"code": code + "0"}]
            for body in guesses:
                async with session.post(url, json=body) as response:
                    answer = await response.json()
                    assert response.status == 403, answer
                    assert answer["error"] == "wrong_code"
            # Five wrong codes from anyone close the window: the owner's right code is now too late,
            # and the household is told.
            async with session.post(url, json={"code": code}) as response:
                assert (await response.json())["error"] == "pairing_closed"
        assert lan.server.pairing.paired == 0
        assert await lan.runtime.db.read(list_tokens) == []
        assert pairing_notices(events) == ["pairing closed after 5 wrong codes (last from 127.0.0.1)"]


async def test_three_pair_calls_in_one_window_get_one_token(lan: Any) -> None:
    events: list[HubEvent] = []
    lan.runtime.bus.add_handler(events.append)
    code = await open_window(lan)
    async with lan.session() as session:

        async def pair(name: str) -> int:
            body = {"name": name, "code": code}
            async with session.post(lan.url + "/api/v1/pair", json=body) as response:
                return response.status

        statuses = await asyncio.gather(pair("a"), pair("b"), pair("c"))
    assert sorted(statuses) == [200, 403, 403]
    tokens = await lan.runtime.db.read(list_tokens)
    assert len(tokens) == 1 and tokens[0].owner
    (notice,) = pairing_notices(events)
    assert re.fullmatch(rf"new owner token {tokens[0].id} '[abc]' paired from 127\.0\.0\.1", notice)


async def test_only_the_owner_manages_tokens_so_a_paired_attacker_cannot_evict_the_owner(
    lan: Any,
) -> None:
    owner = (await lan.runtime.db.write(create_token("owner's phone"))).token
    other = (await lan.runtime.db.write(create_token("guest tablet"))).token
    await lan.server.reload_tokens()
    owner_id, other_id = owner.split(".")[0], other.split(".")[0]
    async with lan.session() as session:
        tokens_url = lan.url + "/api/v1/tokens"
        async with session.get(tokens_url, headers=auth(other)) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "owner_only"
        async with session.delete(f"{tokens_url}/{owner_id}", headers=auth(other)) as response:
            assert response.status == 403
        async with session.get(lan.url + "/api/v1/devices", headers=auth(owner)) as response:
            assert response.status == 200  # still there
        async with session.get(tokens_url, headers=auth(owner)) as response:
            listed = await response.json()
        assert [(t["name"], t["owner"]) for t in listed] == [("owner's phone", True), ("guest tablet", False)]
        async with session.delete(f"{tokens_url}/{other_id}", headers=auth(owner)) as response:
            assert response.status == 200
        async with session.get(lan.url + "/api/v1/devices", headers=auth(other)) as response:
            assert response.status == 401


async def test_the_number_of_tokens_is_capped(lan: Any, capsys: Any) -> None:
    for number in range(MAX_TOKENS):
        await lan.runtime.db.write(create_token(f"t{number}"))
    code = await open_window(lan)
    async with (
        lan.session() as session,
        session.post(lan.url + "/api/v1/pair", json={"code": code}) as response,
    ):
        answer = await response.json()
        assert response.status == 409, answer
        assert answer["error"] == "too_many_tokens"
        assert f"has {MAX_TOKENS} tokens, the limit" in answer["message"]
    assert await run_cli("token", "create", "--config", str(lan.config_file)) == 1
    assert f"has {MAX_TOKENS} tokens, the limit" in capsys.readouterr().err
    assert len(await lan.runtime.db.read(list_tokens)) == MAX_TOKENS


async def test_tokens_from_before_owners_existed_are_not_owners(tmp_path: Path, start_lan: Any) -> None:
    """The migration rule: any old token may be an attacker's, so none becomes the owner."""
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / STORE_FILE)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO lan_tokens (id, name, hash, created) VALUES (?, ?, ?, ?)",
        ("0123456789ab", "old", hash_token(OLD_TOKEN), 1.0),
    )
    conn.commit()
    conn.close()
    async with start_lan() as lan:
        async with lan.session(headers=auth(OLD_TOKEN)) as session:
            async with session.get(lan.url + "/api/v1/devices") as response:
                assert response.status == 200
            async with session.get(lan.url + "/api/v1/tokens") as response:
                assert response.status == 403
        code = await open_window(lan)
        async with (
            lan.session() as session,
            session.post(lan.url + "/api/v1/pair", json={"code": code}) as response,
        ):
            assert (await response.json())["owner"] is True  # the next pairing makes the owner


OLD_TOKEN = "0123456789ab." + "A" * 43


@pytest.mark.parametrize("tls_on", [False, True])
async def test_other_sites_cannot_pair_or_read_the_api(start_lan: Any, tls_on: bool) -> None:
    """15.5: a web page elsewhere (also one rebound to the hub's address by DNS) gets nothing."""
    async with start_lan(tls_on=tls_on) as lan:
        token = await lan.new_token()
        code = await open_window(lan)
        scheme = "https" if tls_on else "http"
        port = lan.server.bound_port
        host = f"127.0.0.1:{port}"
        pair = lan.url + "/api/v1/pair"
        async with lan.session() as session:
            # A simple (no-preflight) cross-site POST: text/plain, the evil page's Origin.
            headers = {"Content-Type": "text/plain", "Origin": "http://evil.example"}
            async with session.post(pair, data=json.dumps({"code": code}), headers=headers) as response:
                assert response.status == 403 and (await response.json())["error"] == "wrong_origin"
            headers = {"Content-Type": "text/plain"}
            async with session.post(pair, data=json.dumps({"code": code}), headers=headers) as response:
                assert response.status == 415
            # DNS rebinding: the browser thinks it talks to evil.example, so Host says so.
            rebound = {"Host": f"evil.example:{port}", "Origin": f"{scheme}://evil.example:{port}"}
            for method, path in [("POST", "/api/v1/pair"), ("GET", "/api/v1/health"), ("GET", "/")]:
                async with session.request(
                    method, lan.url + path, json={"code": code}, headers=rebound
                ) as response:
                    assert response.status == 421, (method, path)
                    assert (await response.json())["error"] == "wrong_host"
            async with session.get(
                lan.url + "/api/v1/devices", headers={**auth(token), "Host": f"evil.example:{port}"}
            ) as response:
                assert response.status == 421
            # No CORS: a preflight gets no Access-Control-Allow-* header.
            preflight = {
                "Origin": "http://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            }
            async with session.options(pair, headers=preflight) as response:
                assert response.status >= 400
                assert not [h for h in response.headers if h.lower().startswith("access-control-")]
            # The hub's own page (same origin), by address or by its mDNS name, still pairs.
            own = {"Host": "hub-test.local", "Origin": f"{scheme}://hub-test.local"}
            async with session.get(lan.url + "/api/v1/health", headers=own) as response:
                assert response.status == 200
            own = {"Origin": f"{scheme}://{host}"}
            async with session.post(pair, json={"code": code}, headers=own) as response:
                assert response.status == 200, await response.text()
        assert len(await lan.runtime.db.read(list_tokens)) == 2


@given(st.text(max_size=40), st.text(max_size=40) | st.none())
@settings(max_examples=300, deadline=None)
def test_host_and_origin_checks_never_raise(host: str, origin: str | None) -> None:
    names = hub_names("hub-test")
    allowed = host_allowed(host, "192.0.2.7", names)
    assert allowed in (True, False)
    assert origin_allowed(origin, host, tls=True) in (True, False)
    if allowed and "evil" in host.lower():
        raise AssertionError(host)


def test_host_check_accepts_only_the_hubs_addresses_and_names() -> None:
    names = hub_names("Hub Test 1")
    assert (
        mdns_label("Hub Test 1") + ".local."
        == Advertisement(
            hub_id="Hub Test 1", version="1", port=1, api="/api/v1", fingerprint=None, tls=True
        ).host_name()
    )
    for host in [
        "127.0.0.1:8443",
        "[::1]:8443",
        "localhost",
        "hub-test-1.local:443",
        "192.0.2.7",
        "192.0.2.7:1",
    ]:
        assert host_allowed(host, "::ffff:192.0.2.7", names), host
    for host in ["192.0.2.8", "evil.example", "hub-test-1.local.evil.example", "", "[::1", "a:b:c", None]:
        assert not host_allowed(host, "192.0.2.7", names), host
    assert origin_allowed("https://192.0.2.7:8443", "192.0.2.7:8443", tls=True)
    assert not origin_allowed("http://192.0.2.7:8443", "192.0.2.7:8443", tls=True)
    assert not origin_allowed("null", "192.0.2.7:8443", tls=True)


# --- first run (issue 10.7): a token made behind the server's back works at once --------------------


async def test_a_token_the_demo_or_cli_wrote_works_at_once_and_retries_are_not_throttled(
    start_lan: Any,
) -> None:
    """Before: 401 for up to 30 s (the cache reloaded on a timer) and each try counted (then 429)."""
    async with start_lan(limiter=FailureLimiter(max_failures=3, period=60)) as lan:
        # What `hub-agent demo` does, and `token create` when the control socket is unreachable.
        new = await lan.runtime.db.write(create_token("demo"))
        async with lan.session(headers=auth(new.token)) as session:
            for _ in range(5):
                async with session.get(lan.url + "/api/v1/devices") as response:
                    assert response.status == 200
        assert len(lan.server.api.limiter) == 0
        # A guessed token with an unknown id still fails and counts.
        async with (
            lan.session(headers=auth("0123456789ab." + "B" * 43)) as session,
            session.get(lan.url + "/api/v1/devices") as response,
        ):
            assert response.status == 401
        assert len(lan.server.api.limiter) == 1


async def test_store_lookups_for_unknown_token_ids_are_rate_limited(lan: Any) -> None:
    reads = 0
    real_read = lan.runtime.db.read

    async def counting_read(fn: Any) -> Any:
        nonlocal reads
        reads += 1
        return await real_read(fn)

    lan.runtime.db.read = counting_read
    try:
        for number in range(100):
            assert await lan.server.api.access.recheck(f"{number:012x}." + "C" * 43) is None
    finally:
        lan.runtime.db.read = real_read
    assert reads == 20  # the burst; the clock did not move, so no refill


@pytest.mark.peer
async def test_a_rebinding_page_in_a_real_browser_reads_nothing_and_cannot_pair(
    start_lan: Any, tmp_path: Path
) -> None:
    """Chromium loads an attacker's page from a name that resolves to the hub (`*.localhost` is
    loopback to Chromium: the effect of DNS rebinding), then scripts same-origin requests at the hub."""
    from lan.test_lan_browser import Page, chromium

    async with start_lan(tls_on=False) as lan:
        code = await open_window(lan)
        origin = f"http://evil.localhost:{lan.server.bound_port}"
        async with chromium(tmp_path / "profile", "unused") as cdp:
            target = await cdp.send("Target.createTarget", {"url": "about:blank"})
            attached = await cdp.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            page = Page(cdp, attached["sessionId"])
            for domain in ("Page", "Runtime"):
                await cdp.send(f"{domain}.enable", {}, page.session)
            # The attacker's server serves the page itself; later requests reach the hub.
            await cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*/attack"}]}, page.session)
            paused = cdp.expect("Fetch.requestPaused")
            loaded = cdp.expect("Page.loadEventFired")
            navigate = asyncio.ensure_future(
                cdp.send("Page.navigate", {"url": f"{origin}/attack"}, page.session)
            )
            request = await asyncio.wait_for(paused, 15)
            html = base64.b64encode(b"<!doctype html><title>evil</title>").decode()
            await cdp.send(
                "Fetch.fulfillRequest",
                {"requestId": request["requestId"], "responseCode": 200, "body": html},
                page.session,
            )
            await navigate
            await asyncio.wait_for(loaded, 15)
            assert await page.js("document.title") == "evil"
            answers = await page.js(
                f"""Promise.all([
                    fetch('/api/v1/health').then(r => r.status),
                    fetch('/', {{cache: 'no-store'}}).then(r => r.status),
                    fetch('/api/v1/pair', {{method: 'POST', headers: {{'Content-Type': 'text/plain'}},
                        body: JSON.stringify({{code: {json.dumps(code)}}})}}).then(r => r.status),
                    fetch('/api/v1/pair', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
                        body: JSON.stringify({{code: {json.dumps(code)}}})}}).then(r => r.status),
                ])"""
            )
        assert answers == [421, 421, 421, 421]
        assert await lan.runtime.db.read(list_tokens) == []
        assert lan.server.pairing.is_open(lan.clock[0])  # the owner can still pair


@given(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.lists(st.text()))
)
@settings(max_examples=300, deadline=None)
def test_only_the_windows_code_pairs_and_nothing_raises(presented: object) -> None:
    window = PairingWindow()
    window.open(60, now=0, code="123456")
    assert window.check_code(presented, now=1) is (presented == "123456")
    assert window.check_code("123456", now=61) is False  # closed by time
