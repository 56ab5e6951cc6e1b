"""The whole update path in the agent (dir backend): check, download, install, reboot, health, rollback."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from hub_agent.agent import Agent
from hub_agent.config import load_config
from hub_agent.ota import EXIT_REBOOT
from hub_agent.ota.state import OtaState, StateFile
from hub_agent.ota.versions import parse_version
from ota.harness import booted, wait_status, write_config
from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo

BUNDLE = b"hub image 1.2.0 " * 4096


def _config(tmp_path: Path, server: RepoServer, repo: TufRepo, ca: UpdateCA, **ota: object) -> Path:
    return write_config(tmp_path / "hub", server.url, repo.root_bytes(), ca.ca_file, **ota)


def _slots(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "hub" / "data" / "slots" / "boot.json").read_text())


async def test_update_installs_reboots_and_is_marked_good(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", BUNDLE, "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca)
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        assert ota.status()["current"] == {"version": "0.1.0", "slot": "A"}
        seen: list[str] = []
        agent.runtime.bus.add_handler(
            lambda e: seen.append(e.to_json()["state"]) if e.to_json()["type"] == "update" else None
        )
        ota.start_install("1.2.0")
        await asyncio.wait_for(agent.exit_requested.wait(), 20)
        assert agent.exit_code == EXIT_REBOOT
        assert ota.status()["state"] == "pending_reboot"
        assert {"checking", "downloading", "installing", "pending_reboot"} <= set(seen)
    slots = _slots(tmp_path)
    assert slots["primary"] == "B"
    assert (tmp_path / "hub" / "data" / "slots" / "B.img").read_bytes() == BUNDLE
    # The "reboot": the next start boots B on trial, proves health and marks it good.
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        status = ota.status()
        assert status["state"] == "idle"
        assert status["current"] == {"version": "1.2.0", "slot": "B"}
        assert status["last_error"] is None
    assert _slots(tmp_path)["slots"]["B"]["state"] == "good"  # type: ignore[index]
    state = StateFile(tmp_path / "hub" / "data").load()
    assert str(state.highest) == "1.2.0" and state.pending is None


async def test_unhealthy_slot_is_marked_bad_and_rolled_back(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", BUNDLE, "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca)
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        ota.start_install(None)
        await asyncio.wait_for(agent.exit_requested.wait(), 20)
    # The new slot boots with a LAN API that cannot listen (its port is taken): no local control.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        healthy_config = config.read_text()
        config.write_text(
            healthy_config.replace("health_window = 10", "health_window = 1")
            + f'[lan]\nlisten = "127.0.0.1:{port}"\ntls = false\nmdns = false\n'
        )
        async with booted(config) as (agent, ota):
            await asyncio.wait_for(agent.exit_requested.wait(), 20)
            assert agent.exit_code == EXIT_REBOOT
            status = ota.status()
            assert status["state"] == "failed"
            assert "LAN API is not listening" in status["last_error"]
    assert _slots(tmp_path)["primary"] == "A"
    assert _slots(tmp_path)["slots"]["B"]["state"] == "bad"  # type: ignore[index]
    # Back on A, the failure is reported and the failed version is not offered again automatically.
    config.write_text(healthy_config)
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        status = ota.status()
        assert status["current"] == {"version": "0.1.0", "slot": "A"}
        assert "not healthy" in status["last_error"]
    assert str(StateFile(tmp_path / "hub" / "data").load().failed) == "1.2.0"


class _QuickClock:
    """The system clock, but sleeping only yields: the reboot gate's polling runs at loop speed."""

    def __init__(self) -> None:
        self.sleeps = 0

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await asyncio.sleep(0)


async def test_no_reboot_while_a_rule_is_in_a_delay_or_scene(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", BUNDLE, "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, auto_install=True)
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        busy = asyncio.Event()
        checks = 0

        def rule_running() -> bool:
            nonlocal checks
            checks += 1
            if checks == 5:
                busy.set()
            return checks < 50  # a delay that ends after 50 looks

        ota.busy = rule_running
        ota.clock = _QuickClock()
        ota.on_offer({"version": "1.2.0"})  # the cloud's ota_available, with auto_install
        await asyncio.wait_for(busy.wait(), 20)
        assert ota.status()["state"] == "pending_reboot"
        assert not agent.exit_requested.is_set()  # installed, but waiting for the rule
        await asyncio.wait_for(agent.exit_requested.wait(), 20)
        assert checks == 50 and agent.exit_code == EXIT_REBOOT


async def test_version_downgrade_refused_also_across_slots(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    """Running 0.1.0 on A after 1.2.0 was proven on B: 1.1.0 and 1.2.0 are refused, 1.3.0 is offered."""
    repo.add_target("hub-1.1.0.bundle", b"old", "1.1.0")
    repo.add_target("hub-1.2.0.bundle", b"same", "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca)
    data = tmp_path / "hub" / "data"
    StateFile(data).save(OtaState(highest=parse_version("1.2.0")))
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        assert await ota.check() is None
        ota.start_install("1.1.0")
        status = await wait_status(ota, lambda s: s["state"] == "failed")
        assert status["last_error"] == "no update newer than the installed version is offered"
        repo.add_target("hub-1.3.0.bundle", b"new", "1.3.0")
        repo.publish()
        offer = await ota.check()
        assert offer is not None and str(offer.version) == "1.3.0"
    assert _slots(tmp_path)["primary"] == "A"


async def test_broken_ota_state_never_costs_local_control(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path, server, repo, test_ca)
    data = tmp_path / "hub" / "data"
    (data / "slots").mkdir(parents=True)
    (data / "slots" / "boot.json").write_text('{"primary": "Z"}')
    agent = Agent(load_config(config))
    try:
        await agent.start()  # comes up; updates are disabled and say why
        assert "ota" not in agent.parts
    finally:
        await agent.stop()
    assert "over-the-air updates disabled" in caplog.text and "boot.json is corrupt" in caplog.text
    # A corrupt state file is moved aside; the hub updates on from an empty state.
    (data / "slots" / "boot.json").unlink()
    (data / "ota").mkdir(exist_ok=True)
    (data / "ota" / "state.json").write_text("{not json")
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        assert ota.status()["state"] == "idle"
    assert (data / "ota" / "state.json.corrupt").read_text() == "{not json"
    assert str(StateFile(data).load().highest) == "0.1.0"


async def test_owner_mark_good_ends_a_failing_health_window(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", BUNDLE, "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, health_window=600)
    async with booted(config) as (agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 10)
        ota.start_install(None)
        await asyncio.wait_for(agent.exit_requested.wait(), 20)
    with socket.socket() as taken:  # the new slot's LAN API cannot listen: it would never be healthy
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        healthy_config = config.read_text()
        port = taken.getsockname()[1]
        config.write_text(healthy_config + f'[lan]\nlisten = "127.0.0.1:{port}"\ntls = false\nmdns = false\n')
        async with booted(config) as (agent, ota):
            await wait_status(ota, lambda s: s["state"] == "verifying")
            await ota.mark_good()  # what `hub-agent update mark-good` does
            await asyncio.wait_for(ota.settled.wait(), 10)
            assert not agent.exit_requested.is_set()
            assert ota.status()["current"] == {"version": "1.2.0", "slot": "B"}
    assert _slots(tmp_path)["slots"]["B"]["state"] == "good"  # type: ignore[index]
    assert str(StateFile(tmp_path / "hub" / "data").load().highest) == "1.2.0"
