"""First-run defects: zigbee.db is 0600 like the rest of data_dir, and a restart is quiet and cheap
(no "Device ... joined the network" per known device, no re-interview), on both stacks."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import zigpy.zdo.types as zdo_t

from hubtest.zigbee_events import EventLog
from radios.base import RadioContext
from radios.sim.zigbee_air import SimulatedAir
from radios.sim.zigbee_radio import SimZigbeeRadio
from radios.zigbee.settings import ZigbeeSection

HOUSEHOLD_SIZE = 11


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_sim_restart_in_a_new_process_is_quiet_and_needs_no_interview(
    tmp_path: Path, air_for: Callable[[Path], SimulatedAir], caplog: pytest.LogCaptureFixture
) -> None:
    section = ZigbeeSection(radio="sim", channel=20)
    log = EventLog()
    radio = SimZigbeeRadio(section, RadioContext(tmp_path, log))
    await radio.start()
    try:
        await radio.set_inclusion(60)
        await log.added(HOUSEHOLD_SIZE)
        await radio.wait_configured()
        assert _mode(tmp_path / "zigbee.db") == 0o600
    finally:
        await radio.stop()
    SimulatedAir.forget(f"sim://{tmp_path.resolve()}")  # a new process: a new air object
    air = air_for(tmp_path)
    caplog.clear()
    log2 = EventLog()
    radio2 = SimZigbeeRadio(section, RadioContext(tmp_path, log2))
    with caplog.at_level(logging.INFO):
        await radio2.start()
    try:
        assert len(await log2.added(HOUSEHOLD_SIZE)) == HOUSEHOLD_SIZE
        assert not [r.getMessage() for r in caplog.records if "joined the network" in r.getMessage()]
        assert not [f for f in air.frames if f.is_zdo and f.cluster_id == zdo_t.ZDOCmd.Node_Desc_req]
        assert _mode(tmp_path / "zigbee.db") == 0o600
    finally:
        await radio2.stop()


async def test_an_existing_loose_database_is_tightened_to_0600(
    tmp_path: Path, air_for: Callable[[Path], SimulatedAir]
) -> None:
    database = tmp_path / "zigbee.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    air_for(tmp_path)
    radio = SimZigbeeRadio(ZigbeeSection(radio="sim"), RadioContext(tmp_path, EventLog()))
    await radio.start()
    await radio.stop()
    assert _mode(database) == 0o600
