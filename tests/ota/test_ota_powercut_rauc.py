"""Power-cut matrix with RAUC: `hub-agent run` (rauc backend) SIGKILLed at every OTA step it passes.

Every end of the agent process is a machine reboot here: the RAUC service is killed too, the test's
bootloader picks the slot (primary if good, else the other), the service starts for it with a new
kernel boot id, and the agent starts again. The reboot command itself ends the agent (SIGTERM to its
parent) after leaving a mark. After each cut the booted slot must be good, and the update must complete
(1.2.0 on rootfs.1) or, when the new slot cannot prove health, roll back (0.1.0 on rootfs.0).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from pathlib import Path

import pytest

from hub_agent.ota import control
from hub_agent.ota.faults import POINTS
from hub_agent.ota.state import BOOT_ID_ENV, StateFile
from ota.harness import write_config
from ota.https_server import RepoServer, UpdateCA
from ota.rauc_peer import RaucHub, make_bundle, make_signing_pki
from ota.test_ota_powercut import HEALTHY_ONLY, MAX_BOOTS, UNHEALTHY_ONLY, Boot
from ota.tufrepo import TufRepo

pytestmark = [pytest.mark.slow, pytest.mark.peer]

#: From the install on: the check and download steps do not touch the backend (the dir matrix covers them).
RAUC_POINTS = tuple(p for p in POINTS if p.split(":")[0] in ("install", "boot", "health"))
IMAGE = b"rootfs 1.2.0 " * 40_000


async def _run(
    tmp_path: Path, config: Path, hub: RaucHub, point: str, healthy: bool
) -> tuple[str, bool, int]:
    data = tmp_path / "hub" / "data"
    fired = False
    for boots in range(1, MAX_BOOTS + 1):
        env = {"DBUS_SYSTEM_BUS_ADDRESS": hub.address, BOOT_ID_ENV: f"boot-{uuid.uuid4()}"}
        boot = Boot(config, None if fired else point, env)
        try:
            if await boot.start():
                state = hub.bootloader_file(f"state.{hub.booted}")
                assert not state.exists() or state.read_text().strip() == "good"
                status = await asyncio.to_thread(control.call, control.socket_path(data), {"op": "status"})
                if status["current"]["version"] == "1.2.0":
                    assert healthy and status["current"]["slot"] == "rootfs.1"
                    return "completed", fired, boots
                if str(StateFile(data).load().failed) == "1.2.0":
                    assert not healthy and status["current"]["slot"] == "rootfs.0"
                    return "rolled back", fired, boots
                await asyncio.to_thread(
                    control.call, control.socket_path(data), {"op": "install", "version": "1.2.0"}
                )
                code = await boot.end()
            else:
                code = boot.process.returncode if boot.process else None
            # Killed at the point (-9), or ended by the reboot command (SIGTERM: exit 0).
            assert code in (-signal.SIGKILL, 0), code
            fired = fired or code == -signal.SIGKILL
        finally:
            await boot.stop()
        # The machine reboots: RAUC goes down with it and comes back for the slot the bootloader picks.
        await hub.kill_service()
        hub.boot()
        await hub.start_service()
    raise AssertionError(f"{point}: no outcome after {MAX_BOOTS} boots")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("point", RAUC_POINTS)
async def test_rauc_power_cut_leaves_a_good_slot(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, point: str
) -> None:
    pki = make_signing_pki(tmp_path / "signing", "vendor")
    repo.add_target("hub-1.2.0.raucb", await make_bundle(tmp_path / "build", IMAGE, "1.2.0", pki), "1.2.0")
    repo.publish()
    for healthy in (True, False):
        if point in (UNHEALTHY_ONLY if healthy else HEALTHY_ONLY):
            continue
        folder = tmp_path / ("healthy" if healthy else "unhealthy")
        hub = RaucHub(folder / "rauc", keyring=pki[0])
        marker = folder / "rebooted"
        config = write_config(
            folder / "hub", server.url, repo.root_bytes(), test_ca.ca_file, backend="rauc", health_window=1
        )
        text = config.read_text()
        text += f'reboot_command = ["/bin/sh", "-c", "echo reboot >> {marker}; kill -TERM $PPID"]\n'
        with socket.socket() as taken:
            if not healthy:
                taken.bind(("127.0.0.1", 0))
                taken.listen()
                text += f'[lan]\nlisten = "127.0.0.1:{taken.getsockname()[1]}"\ntls = false\nmdns = false\n'
            config.write_text(text)
            try:
                await hub.start_bus()
                await hub.start_service()
                outcome, fired, boots = await _run(folder, config, hub, point, healthy)
            finally:
                await hub.close()
        assert fired, f"the power cut at {point} never happened"
        assert outcome == ("completed" if healthy else "rolled back")
        variant = "healthy" if healthy else "unhealthy"
        print(f"RAUC power cut at {point} ({variant}): {outcome} after {boots} boots")
