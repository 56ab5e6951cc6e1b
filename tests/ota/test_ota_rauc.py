"""The rauc backend against the real RAUC service (Debian rauc) on a private system bus."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_agent.ota.state import BOOT_ID_ENV
from ota.harness import booted, wait_status, write_config
from ota.https_server import RepoServer, UpdateCA
from ota.rauc_peer import SLOT_SIZE, RaucHub, make_bundle, make_signing_pki
from ota.tufrepo import TufRepo

pytestmark = pytest.mark.peer

IMAGE = b"rootfs 1.2.0 " * 20_000


@pytest.fixture
async def rauc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RaucHub, tuple[Path, Path, Path]]]:
    pki = make_signing_pki(tmp_path / "signing", "vendor")
    hub = RaucHub(tmp_path / "rauc", keyring=pki[0])
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", hub.address)
    monkeypatch.setenv(BOOT_ID_ENV, "boot-0")  # each simulated reboot below sets a new one
    try:
        await hub.start_bus()
        await hub.start_service()
        yield hub, pki
    finally:
        await hub.close()


def _config(tmp_path: Path, server: RepoServer, repo: TufRepo, ca: UpdateCA, hub: RaucHub) -> Path:
    marker = tmp_path / "rebooted"
    config = write_config(tmp_path / "hub", server.url, repo.root_bytes(), ca.ca_file, backend="rauc")
    config.write_text(config.read_text() + f'reboot_command = ["/bin/sh", "-c", "echo reboot >> {marker}"]\n')
    return config


async def _reboot(hub: RaucHub) -> str:
    """Power-cycle the RAUC side: the bootloader picks a slot, the service starts for it."""
    os.environ[BOOT_ID_ENV] = f"boot-{uuid.uuid4()}"
    await hub.kill_service()
    slot = hub.boot()
    await hub.start_service()
    return slot


async def test_rauc_installs_a_signed_bundle_then_the_new_slot_is_marked_good(
    rauc: tuple[RaucHub, tuple[Path, Path, Path]],
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
) -> None:
    hub, pki = rauc
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", IMAGE, "1.2.0", pki), "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, hub)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        assert ota.status()["current"] == {"version": "0.1.0", "slot": "rootfs.0"}
        ota.start_install("1.2.0")
        status = await wait_status(ota, lambda s: s["state"] in ("pending_reboot", "failed"), timeout=60)
        assert status["state"] == "pending_reboot", status
        await asyncio.wait_for(ota.rebooted.wait(), 20)  # the reboot command ran
    assert (tmp_path / "rebooted").read_text() == "reboot\n"
    assert hub.slots["B"].read_bytes()[: len(IMAGE)] == IMAGE
    assert hub.bootloader_file("primary").read_text().strip() == "B"
    assert await _reboot(hub) == "B"
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        status = ota.status()
        assert status["current"] == {"version": "1.2.0", "slot": "rootfs.1"}
        assert (status["state"], status["last_error"]) == ("idle", None)
    assert hub.bootloader_file("state.B").read_text().strip() == "good"


async def test_rauc_refuses_a_bundle_signed_by_another_ca(
    rauc: tuple[RaucHub, tuple[Path, Path, Path]],
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
) -> None:
    hub, _pki = rauc
    rogue = make_signing_pki(tmp_path / "rogue", "rogue")
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", IMAGE, "1.2.0", rogue), "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, hub)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        ota.start_install(None)
        status = await wait_status(ota, lambda s: s["state"] == "failed", timeout=60)
        assert "RAUC install failed: signature verification failed" in status["last_error"]
    assert not (tmp_path / "rebooted").exists()
    assert hub.slots["B"].read_bytes() == b"\0" * SLOT_SIZE  # nothing written: verified before use
    assert not hub.bootloader_file("primary").exists()
    assert hub.boot() == "A"


async def test_rauc_unhealthy_slot_marked_bad_and_the_bootloader_falls_back(
    rauc: tuple[RaucHub, tuple[Path, Path, Path]],
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
) -> None:
    hub, pki = rauc
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", IMAGE, "1.2.0", pki), "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, hub)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        ota.start_install(None)
        await asyncio.wait_for(ota.rebooted.wait(), 60)
    assert await _reboot(hub) == "B"
    # The new slot's cloud link never connects (nothing listens): unhealthy within a 1 s window.
    healthy = config.read_text()
    (tmp_path / "cloud-ca.pem").write_bytes(test_ca.ca_file.read_bytes())
    config.write_text(
        healthy.replace("health_window = 10", "health_window = 1")
        + f'[cloud]\nurl = "wss://127.0.0.1:9/hub"\nca = "{tmp_path / "cloud-ca.pem"}"\n'
    )
    async with booted(config) as (_agent, ota):
        status = await wait_status(ota, lambda s: s["state"] == "failed", timeout=30)
        assert "not healthy within 1 s" in status["last_error"] and "cloud link" in status["last_error"]
        await asyncio.wait_for(ota.rebooted.wait(), 20)
    assert hub.bootloader_file("state.B").read_text().strip() == "bad"
    assert (tmp_path / "rebooted").read_text() == "reboot\nreboot\n"
    assert await _reboot(hub) == "A"
    config.write_text(healthy)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        status = ota.status()
        assert status["current"] == {"version": "0.1.0", "slot": "rootfs.0"}
        assert "did not come up" in status["last_error"] or "not healthy" in status["last_error"]


@pytest.mark.parametrize("cut_at", [0, 30, 70, 100])
async def test_rauc_service_killed_mid_install_leaves_a_good_slot(
    rauc: tuple[RaucHub, tuple[Path, Path, Path]],
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
    cut_at: int,
) -> None:
    """Power cut while RAUC writes (progress >= cut_at %): the next boot runs a good slot; a retry works."""
    hub, pki = rauc
    image = bytes(range(256)) * (12 * 1024)  # 3 MiB: RAUC reports progress while writing it
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", image, "1.2.0", pki), "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, hub)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        ota.start_install(None)
        await wait_status(
            ota,
            lambda s: (
                (s["state"] == "installing" and s["progress"] >= cut_at) or s["state"] == "pending_reboot"
            ),
            timeout=60,
        )
        await hub.kill_service()  # the power goes: RAUC dies, and the agent with it (stopped below)
    slot = await _reboot(hub)
    state_b = hub.bootloader_file("state.B")
    marked = state_b.read_text().strip() if state_b.exists() else "untouched"
    print(f"RAUC killed at >= {cut_at}%: boots {slot}, B {marked}")
    state = hub.bootloader_file(f"state.{slot}")
    assert not state.exists() or state.read_text().strip() == "good"
    for _ in range(2):
        async with booted(config) as (_agent, ota):
            await asyncio.wait_for(ota.settled.wait(), 20)
            if ota.status()["current"]["version"] == "1.2.0":
                break
            assert ota.status()["current"]["slot"] == "rootfs.0"
            ota.start_install(None)
            await asyncio.wait_for(ota.rebooted.wait(), 60)
        assert await _reboot(hub) == "B"
    else:
        raise AssertionError("the update did not complete after the power cut")
    assert hub.slots["B"].read_bytes()[: len(image)] == image


async def test_rauc_agent_restart_before_the_reboot_keeps_the_update_pending(
    rauc: tuple[RaucHub, tuple[Path, Path, Path]],
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
) -> None:
    """Only the agent restarts after the install (same boot): it waits to reboot again, no false rollback."""
    hub, pki = rauc
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", IMAGE, "1.2.0", pki), "1.2.0")
    repo.publish()
    config = _config(tmp_path, server, repo, test_ca, hub)
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        ota.start_install(None)
        await asyncio.wait_for(ota.rebooted.wait(), 60)
    async with booted(config) as (_agent, ota):  # the machine did not reboot (boot id unchanged)
        await asyncio.wait_for(ota.rebooted.wait(), 20)
        status = ota.status()
        assert (status["state"], status["last_error"]) == ("pending_reboot", None)
    assert (tmp_path / "rebooted").read_text() == "reboot\nreboot\n"
    assert await _reboot(hub) == "B"
    async with booted(config) as (_agent, ota):
        await asyncio.wait_for(ota.settled.wait(), 20)
        assert ota.status()["current"] == {"version": "1.2.0", "slot": "rootfs.1"}
