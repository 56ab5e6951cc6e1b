"""Power-cut matrix: the agent (a real `hub-agent run` process, dir backend) is SIGKILLed at every OTA step.

After each cut the hub "boots" again (the process restarts; the dir backend's boot step picks the slot
the pointer names) and must run a good slot; the update must then either complete (1.2.0 running on B,
marked good) or roll back (0.1.0 on A, 1.2.0 recorded as failed). Two variants: the new slot is healthy,
or it cannot prove health (its LAN API cannot listen) and must be rolled back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from hub_agent.ota import EXIT_REBOOT, control
from hub_agent.ota.faults import ENV, POINTS
from hub_agent.ota.state import StateFile
from hubtest.processes import signal_child
from ota.harness import write_config
from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo

pytestmark = [pytest.mark.slow, pytest.mark.peer]

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = b"image 1.2.0 " * 50_000  # 600 kB, several chunks
HEALTHY_ONLY = {"health:marked-good"}
UNHEALTHY_ONLY = {"health:marked-bad", "health:bad-saved"}
MAX_BOOTS = 10


class Boot:
    """One run of `hub-agent run` until it is ready, exits or is killed."""

    def __init__(self, config: Path, kill_at: str | None, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.kill_at = kill_at
        self.env = env or {}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> bool:
        """Start; True once OTA reports ready, False if the process ended first."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        env.pop(ENV, None)
        if self.kill_at:
            env[ENV] = self.kill_at
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub_agent", "run", "--config", str(self.config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert self.process.stderr is not None
        async with asyncio.timeout(30):
            while line := await self.process.stderr.readline():
                if b"OTA ready" in line:
                    asyncio.get_running_loop().create_task(self._drain())
                    return True
        await self.process.wait()
        return False

    async def _drain(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while await self.process.stderr.readline():
            pass

    async def end(self) -> int:
        """Wait for the process to end by itself (killed at a point, or exit 75)."""
        assert self.process is not None
        async with asyncio.timeout(30):
            return await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.returncode is None:
            signal_child(self.process, signal.SIGTERM)
            async with asyncio.timeout(15):
                await self.process.wait()


def _slots(data: Path) -> dict[str, object]:
    return json.loads((data / "slots" / "boot.json").read_text())


def _assert_bootable(data: Path) -> None:
    """What the bootloader will boot next is good, or a trial slot with a good slot to fall back to."""
    boot = _slots(data)
    slots: dict[str, dict[str, object]] = boot["slots"]  # type: ignore[assignment]
    primary = slots[str(boot["primary"])]
    other = slots["B" if boot["primary"] == "A" else "A"]
    assert primary["state"] == "good" or (
        primary["state"] in ("trial", "writing", "bad") and other["state"] == "good"
    ), boot


async def _run_case(tmp_path: Path, config: Path, point: str, healthy: bool) -> tuple[str, bool, int]:
    """Drive one kill point to its outcome; returns (outcome, whether the kill fired, boots)."""
    data = tmp_path / "hub" / "data"
    fired = False
    for boots in range(1, MAX_BOOTS + 1):
        boot = Boot(config, None if fired else point)
        ready = await boot.start()
        try:
            if not ready:
                code = boot.process.returncode if boot.process else None
                assert code in (-signal.SIGKILL, EXIT_REBOOT), code
                fired = fired or code == -signal.SIGKILL
                _assert_bootable(data)
                continue
            booted = (data / "slots" / "booted").read_text().strip()
            assert _slots(data)["slots"][booted]["state"] == "good"  # type: ignore[index]
            status = await asyncio.to_thread(control.call, control.socket_path(data), {"op": "status"})
            if status["current"]["version"] == "1.2.0":
                assert healthy and booted == "B"
                return "completed", fired, boots
            if str(StateFile(data).load().failed) == "1.2.0":
                assert not healthy and booted == "A"
                return "rolled back", fired, boots
            await asyncio.to_thread(
                control.call, control.socket_path(data), {"op": "install", "version": "1.2.0"}
            )
            code = await boot.end()
            assert code in (-signal.SIGKILL, EXIT_REBOOT), code
            fired = fired or code == -signal.SIGKILL
            _assert_bootable(data)
        finally:
            await boot.stop()
    raise AssertionError(f"{point}: no outcome after {MAX_BOOTS} boots")


async def _case(
    tmp_path: Path, server: RepoServer, repo: TufRepo, ca: UpdateCA, point: str, healthy: bool
) -> str:
    """One kill point for a healthy or an unhealthy new slot, in its own folder; returns a summary line."""
    folder = tmp_path / ("healthy" if healthy else "unhealthy")
    config = write_config(folder / "hub", server.url, repo.root_bytes(), ca.ca_file, health_window=1)
    with socket.socket() as taken:
        if not healthy:
            # The new slot cannot prove health: its LAN API cannot listen (the port is taken), so
            # local control is not there. (The old slot is good and needs no proof.)
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            lan = f'[lan]\nlisten = "127.0.0.1:{port}"\ntls = false\nmdns = false\n'
            config.write_text(config.read_text() + lan)
        outcome, fired, boots = await _run_case(folder, config, point, healthy)
    assert fired, f"the power cut at {point} never happened"
    assert outcome == ("completed" if healthy else "rolled back")
    return (
        f"power cut at {point} ({'healthy' if healthy else 'unhealthy'} slot): {outcome} after {boots} boots"
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", POINTS)
async def test_power_cut_leaves_a_good_slot_and_the_update_completes_or_rolls_back(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, point: str
) -> None:
    """Both variants of one kill point run side by side (separate data dirs, one repository)."""
    repo.add_target("hub-1.2.0.bundle", BUNDLE, "1.2.0")
    repo.publish()
    variants = [h for h in (True, False) if point not in (UNHEALTHY_ONLY if h else HEALTHY_ONLY)]
    for line in await asyncio.gather(*(_case(tmp_path, server, repo, test_ca, point, h) for h in variants)):
        print(line)
