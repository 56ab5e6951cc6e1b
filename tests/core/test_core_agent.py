"""The agent's lifecycle: restore before radios, supervision, signals, sd_notify, SIGKILL and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub_agent.agent import Agent
from hub_agent.config import load_config
from hub_agent.store import STORE_FILE, Database
from hub_agent.store.devices import save_device, save_state
from hub_core.model import Device, DeviceId, Protocol
from hub_core.supervisor import Supervisor
from radios.ble.gatt import SWITCH_MODEL
from radios.sim.ble_radio import SimBleRadio

ROOT = Path(__file__).parents[2]


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f'[hub]\nid = "hub-test"\ndata_dir = "data"\n\n[ble]\nadapter = "sim"\n{extra}')
    return path


def seed_store(data_dir: Path, count: int) -> None:
    db = Database(data_dir / STORE_FILE)

    async def write() -> None:
        for n in range(2, count + 2):
            device = Device(
                DeviceId(f"ble-{n:012x}"),
                Protocol.BLE,
                f"Light {n}",
                model=SWITCH_MODEL,
                capabilities=("switch",),
            )
            await db.write(save_device(device))
            await db.write(save_state(device.id, "switch", "on" if n % 2 else "off", 1.0))
        await db.close()

    asyncio.run(write())


def test_devices_are_restored_before_radios_start_and_commands_work_from_the_cache(tmp_path: Path) -> None:
    seed_store(tmp_path / "data", 200)

    async def scenario() -> None:
        agent = Agent(load_config(config_file(tmp_path)))
        runtime = await agent.start()
        try:
            radio = runtime.hub.radios[Protocol.BLE]
            assert isinstance(radio, SimBleRadio)
            assert len(radio.ctx.known_devices) == 200  # the radio was told what the store knew
            assert runtime.hub.device("ble-000000000032").state == {"switch": "off"}  # type: ignore[union-attr]
            result = await runtime.hub.execute("ble-000000000032", "toggle")
            assert result.status == "ok"
        finally:
            await agent.stop()

    asyncio.run(scenario())


async def test_a_crashing_part_is_restarted_and_the_rest_stays_up(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(first_delay=0.001, cap=0.004)
    runs: list[int] = []
    third = asyncio.Event()
    healthy = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 3:
            third.set()
            await asyncio.Event().wait()
        raise RuntimeError(f"crash {len(runs)}")

    async def steady() -> None:
        healthy.set()
        await asyncio.Event().wait()

    supervisor.start("flaky", flaky)
    supervisor.start("steady", steady)
    await asyncio.wait_for(third.wait(), 5)
    await healthy.wait()
    assert supervisor.status["flaky"].restarts == 2
    assert supervisor.status["flaky"].last_error == "RuntimeError: crash 2"
    assert supervisor.status["steady"].restarts == 0
    assert "part flaky crashed; restarting" in caplog.text
    await supervisor.stop()


def start_agent(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hub_agent", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def wait_for_line(process: subprocess.Popen[str], needle: str) -> str:
    assert process.stderr is not None
    for line in process.stderr:
        if needle in line:
            return line
    raise AssertionError(f"agent exited ({process.wait()}) without logging {needle!r}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    agent = start_agent(config_file(tmp_path))
    wait_for_line(agent, "ready in")
    agent.send_signal(signum)
    # The 5 s promise is kept by the agent's own stop deadlines (Supervisor.stop); the test only
    # requires a clean exit, so machine load cannot make it flaky.
    assert agent.wait(timeout=60) == 0
    assert agent.stderr is not None
    assert "stopped" in agent.stderr.read()
    agent.stderr.close()


def test_sd_notify_ready_and_stopping_reach_a_real_notify_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(address)
        server.settimeout(20)
        agent = start_agent(
            config_file(tmp_path), {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": ""}
        )
        messages = [server.recv(4096).decode()]
        assert messages[0].startswith("READY=1\nSTATUS=ready")
        while "WATCHDOG=1" not in messages:
            messages.append(server.recv(4096).decode())
        agent.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages.append(server.recv(4096).decode())
        assert agent.wait(timeout=5) == 0
        assert agent.stderr is not None
        agent.stderr.close()


def test_sigkill_then_restart_restores_everything(tmp_path: Path) -> None:
    seed_store(tmp_path / "data", 50)
    config = config_file(tmp_path)
    agent = start_agent(config)
    wait_for_line(agent, "ready in")
    agent.kill()
    agent.wait(timeout=5)
    assert agent.stderr is not None
    agent.stderr.close()
    conn = sqlite3.connect(tmp_path / "data" / STORE_FILE)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    again = start_agent(config)
    line = wait_for_line(again, "restored")
    assert "restored 50 devices" in line
    wait_for_line(again, "ready in")
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=5) == 0
    assert again.stderr is not None
    again.stderr.close()


def test_a_radio_that_cannot_be_built_does_not_stop_the_agent(tmp_path: Path) -> None:
    path = config_file(tmp_path, '\n[zigbee]\nradio = "znp"\nport = "/dev/hub-agent-no-such-stick"\n')

    async def scenario() -> None:
        agent = Agent(load_config(path))
        runtime = await agent.start()
        try:
            assert Protocol.BLE in runtime.hub.radios
        finally:
            await agent.stop()

    asyncio.run(scenario())


def test_data_dir_is_private(tmp_path: Path) -> None:
    async def scenario() -> None:
        agent = Agent(load_config(config_file(tmp_path)))
        await agent.start()
        await agent.stop()

    asyncio.run(scenario())
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
