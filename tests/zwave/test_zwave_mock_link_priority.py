"""The link scheduler and Set confirmation (issue 16) against zwave-js's MockController.

A rule command that arrives while a verify Get waits for the link goes first; a Set the node confirmed
through Supervision is followed by no Get at all; a Set to a node without Supervision is verified
once, late, and never ahead of a user command.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from zwave_peer import ZWavePeer, household_node

from hub_core.model import Command, DeviceAdded, DeviceId
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.zwave import cc
from radios.zwave.radio import ZWaveRadio
from radios.zwave.scheduler import Priority

pytestmark = pytest.mark.peer

WAIT = 10.0
SUPERVISION = 0x6C


def without_supervision(kind: str, node_id: int) -> dict[str, Any]:
    """A household node of `kind` that does not support Supervision (so Sets need verifying)."""
    node = copy.deepcopy(household_node(kind))
    node["id"] = node_id
    caps = node["capabilities"]
    caps["commandClasses"] = [c for c in caps["commandClasses"] if c["ccId"] != SUPERVISION]
    return node


async def include(radio: ZWaveRadio, peer: ZWavePeer, log: EventLog, node: dict[str, Any]) -> None:
    mark = log.mark()
    await peer.include(node)
    await radio.set_inclusion(30)
    await log.wait_for(
        lambda e: isinstance(e, DeviceAdded) and e.device.id == f"zwave-{node['id']}", since=mark
    )
    await radio.set_inclusion(0)
    await radio.settle()


@pytest.fixture
async def rig(
    zwave_empty_peer: ZWavePeer, tmp_path: Path
) -> AsyncIterator[tuple[ZWaveRadio, ZWavePeer, EventLog]]:
    log = EventLog()
    radio = ZWaveRadio(RadioContext(tmp_path, log, state_reader=log.state_of), zwave_empty_peer.url)
    await radio.start()
    try:
        yield radio, zwave_empty_peer, log
    finally:
        await radio.stop()
    assert zwave_empty_peer.errors() == []


def cmd(device: str, name: str, **args: Any) -> Command:
    return Command(DeviceId(device), name, args)


async def test_a_rule_command_goes_ahead_of_a_queued_verify_get(
    rig: tuple[ZWaveRadio, ZWavePeer, EventLog],
) -> None:
    radio, peer, log = rig
    await include(radio, peer, log, without_supervision("switch", 2))
    await include(radio, peer, log, without_supervision("dimmer", 3))
    assert radio.controller is not None
    gate = radio.controller.driver.gate
    before = len(await peer.received(3))
    # The link is busy with a command to the switch (SendData is on the mock's air for ~60 ms) ...
    busy = asyncio.create_task(radio.execute(cmd("zwave-2", "on")))
    await asyncio.sleep(0)  # one loop step: its request took the link
    assert gate.holder is not None and gate.holder.priority is Priority.USER
    # ... when the dimmer's verify Get is queued, and then a rule's Multilevel Switch Set arrives.
    verify = asyncio.create_task(radio.link.query(3, cc.MultilevelSwitchGet(), 0, Priority.VERIFY))
    await asyncio.sleep(0)
    rule = asyncio.create_task(radio.execute(cmd("zwave-3", "set_level", level=40)))
    await asyncio.sleep(0)
    assert [j.priority for j in gate.scheduler.queued()] == [Priority.USER, Priority.VERIFY]
    async with asyncio.timeout(WAIT):
        await asyncio.gather(busy, rule, verify)
    sent = (await peer.received(3))[before:]
    # FIFO would have sent the Get (queued first) before the Set; the scheduler sends the Set first.
    assert sent[:2] == [cc.MultilevelSwitchSet(40).to_bytes(), cc.MultilevelSwitchGet().to_bytes()]
    assert await peer.get_state(3, "MultilevelSwitch_currentValue") == 40


async def test_a_set_confirmed_by_supervision_sends_no_get(
    rig: tuple[ZWaveRadio, ZWavePeer, EventLog],
) -> None:
    radio, peer, log = rig
    await include(radio, peer, log, household_node("switch"))  # supports Supervision
    before = len(await peer.received(2))
    for name, value in (("on", "on"), ("off", "off"), ("on", "on")):
        mark = log.mark()
        async with asyncio.timeout(WAIT):
            await radio.execute(cmd("zwave-2", name))
        await log.state("zwave-2", "switch", value, since=mark)  # the Set's implied report
    await radio.settle()
    sent = [cc.unwrap(cc.parse_cc(b)) for b in (await peer.received(2))[before:]]
    assert [e.supervision_session is not None for e in sent] == [True, True, True]
    assert not any(isinstance(e.command, cc.BinarySwitchGet) for e in sent)
    assert radio.verifier.gets_sent == 0 and radio.verifier.gets_saved == 3


async def test_a_set_without_supervision_is_verified_once_after_the_delay(
    rig: tuple[ZWaveRadio, ZWavePeer, EventLog],
) -> None:
    radio, peer, log = rig
    await include(radio, peer, log, without_supervision("dimmer", 3))
    before = len(await peer.received(3))
    mark = log.mark()
    async with asyncio.timeout(WAIT):
        await radio.execute(cmd("zwave-3", "set_level", level=30))
        await radio.execute(cmd("zwave-3", "set_level", level=60))  # its verification merges
    # execute returned before any Get went out: confirmation is off the hot path.
    assert (await peer.received(3))[before:] == [
        cc.MultilevelSwitchSet(30).to_bytes(),
        cc.MultilevelSwitchSet(60).to_bytes(),
    ]
    await log.state("zwave-3", "level", 60, since=mark)  # the mock does not report: the late Get asks
    await radio.settle()
    assert (await peer.received(3))[before:].count(cc.MultilevelSwitchGet().to_bytes()) == 1
    assert radio.verifier.gets_sent == 1
    counted = radio.counters()  # what /metrics shows an installer
    assert counted == {"reconnects": 0, "interviews": 1, "verify_gets_sent": 1, "verify_gets_saved": 1}


async def test_a_dimmer_with_a_duration_is_verified_after_its_transition(
    rig: tuple[ZWaveRadio, ZWavePeer, EventLog],
) -> None:
    """The dimmer's own report, a second into a 10-s transition, answers the verification: no Get.
    Verified after the delay alone (50 ms here), a Get would have asked while the light was dimming."""
    radio, peer, log = rig
    await include(radio, peer, log, without_supervision("dimmer", 3))
    radio.verifier.delay = 0.05
    before = len(await peer.received(3))
    async with asyncio.timeout(WAIT):
        await radio.execute(cmd("zwave-3", "set_level", level=60, duration=10))
    await asyncio.sleep(1.0)  # part of the transition goes by (the scenario, not a wait for an event)
    mark = log.mark()
    await peer.report(3, cc.MultilevelSwitchReport(60).to_bytes())
    await log.state("zwave-3", "level", 60, since=mark)
    await radio.settle()
    sent = (await peer.received(3))[before:]
    assert sent and cc.MultilevelSwitchGet().to_bytes() not in sent
    assert radio.verifier.gets_sent == 0 and radio.verifier.gets_saved == 1
