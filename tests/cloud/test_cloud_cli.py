"""`hub-agent provision` and `hub-agent relay` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from test_cloud_harness import build_agent, running, write_config

from hub_agent import identity
from hub_agent.cli import main
from hub_agent.cloud import pki
from hub_agent.cloud.devcloud import DevPki
from hub_agent.cloud.link import LinkState
from hub_agent.config import load_config
from hubtest.processes import signal_child

ROOT = Path(__file__).resolve().parents[2]


def provision_config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "ca.pem").write_text("placeholder trust anchor\n")
    path = tmp_path / "hub.toml"
    path.write_text(
        f'[hub]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[cloud]\nurl = "wss://cloud.example.com/hub"\nca = "ca.pem"\n{extra}'
    )
    return path


def test_provision_creates_a_private_key_and_prints_a_csr_for_the_hub_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = provision_config(tmp_path)
    assert main(["provision", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    csr = x509.load_pem_x509_csr(out.encode())
    assert csr.is_signature_valid
    key_file = tmp_path / "data" / "hub.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = pki.load_key(key_file)
    hub_id = identity.hub_id_from_key(key)
    assert csr.subject.rfc4514_string() == f"CN={hub_id}"
    assert "created, mode 0600" in err and hub_id in err and str(tmp_path / "data" / "hub.crt") in err

    # Again: the key is kept (the hub id must not change), a new CSR for the same key.
    assert main(["provision", "--config", str(config)]) == 0
    out2, err2 = capsys.readouterr()
    again = x509.load_pem_x509_csr(out2.encode())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert again.public_key().public_bytes(serialization.Encoding.DER, spki) == key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )
    assert "kept the existing key" in err2


def test_provision_uses_the_configured_id_and_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = provision_config(tmp_path, 'key = "keys/hub.key"\n')
    text = config.read_text().replace("[hub]\n", '[hub]\nid = "hub-0042"\n')
    config.write_text(text)
    assert main(["provision", "--config", str(config)]) == 0
    csr = x509.load_pem_x509_csr(capsys.readouterr().out.encode())
    assert csr.subject.rfc4514_string() == "CN=hub-0042"
    assert (tmp_path / "keys" / "hub.key").stat().st_mode & 0o777 == 0o600


def test_provision_with_a_bad_config_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[cloud]\nurl = "ws://insecure/hub"\n')
    assert main(["provision", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "must be a wss:// URL" in err and "needs 'ca'" in err


async def test_the_relay_command_prints_events_and_sends_typed_commands(tmp_path: Path) -> None:
    pki_dir = tmp_path / "relay-pki"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub_agent",
        "relay",
        "--listen",
        "127.0.0.1:0",
        "--make-pki",
        str(pki_dir),
        "--hub-id",
        "hub-test-0001",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stdin is not None
    lines: list[str] = []

    async def read_until(words: str) -> str:
        async with asyncio.timeout(20):
            while True:
                line = (await process.stdout.readline()).decode()  # type: ignore[union-attr]
                if not line:
                    raise AssertionError(f"relay exited; it said {lines}")
                lines.append(line)
                if words in line:
                    return line

    try:
        banner = await read_until("listening on")
        assert "DEVELOPMENT relay" in banner
        url = banner.split("listening on ")[1].strip()
        paths = DevPki(
            pki_dir,
            pki_dir / "ca.pem",
            pki_dir / "ca.key",
            pki_dir / "server.crt",
            pki_dir / "server.key",
            pki_dir / "hub.crt",
            pki_dir / "hub.key",
            "hub-test-0001",
        )
        agent = await build_agent(write_config(tmp_path, paths, url))
        async with running(agent):
            await agent.connected()
            assert "device_added" in await read_until("event #7")
            process.stdin.write(b'zwave-3 set_level {"level": 40}\n')
            await process.stdin.drain()
            result = await read_until("command_result")
            assert '"status":"ok"' in result
            process.stdin.write(b"zwave-99 on\n")
            await process.stdin.drain()
            assert '"error":"unknown_device"' in await read_until("command_result")
            process.stdin.write(b"snapshot\n")
            await process.stdin.drain()
            assert "zwave-3" in await read_until("state_snapshot")
            process.stdin.close()
            async with asyncio.timeout(20):
                assert await process.wait() == 0
            await agent.link.wait_for(LinkState.BACKOFF, LinkState.CONNECTING)
        assert load_config(tmp_path / "hub.toml").cloud is not None
    finally:
        if process.returncode is None:
            signal_child(process, signal.SIGKILL)
        await process.wait()
