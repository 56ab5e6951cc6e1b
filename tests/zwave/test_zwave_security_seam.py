"""The Security seam (radios/zwave/encapsulation.py) over the pty emulator: every payload to a node
goes through `encapsulate`, every payload from it through `decapsulate`, and a joining node is
bootstrapped after AddNode and before its interview's first Get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub_core.errors import DeliveryFailed
from hub_core.model import Command, DeviceId, StateChanged
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave import cc
from radios.zwave.messages import FunctionId, SendDataRequest
from radios.zwave.radio import ZWaveRadio
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=1.0, retry_base=0.02, retry_step=0.1)
ON = cc.BinarySwitchSet(0xFF).to_bytes()
OFF = cc.BinarySwitchSet(0x00).to_bytes()


class Recording:
    """A stand-in for Security that logs each call; it turns "on" into "off" on the way out and
    swallows Binary Switch Reports on the way in, so a test can tell it really sits on the path."""

    def __init__(self, *, fail_bootstrap: bool = False) -> None:
        self.calls: list[tuple[str, int, bytes]] = []
        self.fail_bootstrap = fail_bootstrap

    async def encapsulate(self, node_id: int, payload: bytes) -> bytes:
        self.calls.append(("out", node_id, payload))
        # Sets to this node travel inside Supervision Get: the command is the payload's tail.
        return payload[: -len(ON)] + OFF if payload.endswith(ON) else payload

    def decapsulate(self, node_id: int, payload: bytes) -> bytes | None:
        self.calls.append(("in", node_id, payload))
        return None if payload[:2] == b"\x25\x03" else payload

    async def bootstrap(self, node_id: int, command_classes: tuple[int, ...]) -> None:
        self.calls.append(("bootstrap", node_id, bytes(command_classes)))
        if self.fail_bootstrap:
            raise DeliveryFailed(f"node {node_id} did not answer KEX Get")


@pytest.fixture
async def emulator() -> AsyncIterator[ZWaveEmulator]:
    emulator = ZWaveEmulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


async def include_switch(
    tmp_path: Path, emulator: ZWaveEmulator, security: Recording
) -> tuple[ZWaveRadio, EventLog]:
    log = EventLog()
    ctx = RadioContext(tmp_path, log, state_reader=log.state_of)
    radio = ZWaveRadio(
        ctx, emulator.port_path, timeouts=FAST, query_timeout=0.5, encapsulation=security, bootstrap=security
    )
    await radio.start()
    emulator.joining.extend(n for n in household() if n.node_id == 2)
    await radio.set_inclusion(10)
    await log.added("zwave-2")
    await radio.set_inclusion(0)
    await radio.settle()
    return radio, log


async def test_bootstrap_runs_after_add_node_and_before_the_interview(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    security = Recording()
    radio, _ = await include_switch(tmp_path, emulator, security)
    try:
        kinds = [kind for kind, node, _ in security.calls if node == 2]
        assert kinds[0] == "bootstrap" and kinds.count("bootstrap") == 1
        assert "out" in kinds[1:]  # the interview's Gets went through the seam after it
        nif = security.calls[0][2]
        assert cc.CommandClass.BINARY_SWITCH in nif
        # What went on the air is exactly what encapsulate returned, Get after Get.
        sent = [
            SendDataRequest.from_payload(f.payload).data for f in emulator.frames_of(FunctionId.SEND_DATA)
        ]
        assert sent == [payload for kind, _, payload in security.calls if kind == "out"]
    finally:
        await radio.stop()


async def test_outgoing_and_incoming_payloads_pass_the_seam(tmp_path: Path, emulator: ZWaveEmulator) -> None:
    security = Recording()
    radio, log = await include_switch(tmp_path, emulator, security)
    try:
        mark = log.mark()
        await radio.execute(Command(DeviceId("zwave-2"), "on", {}))
        # encapsulate turned the On into an Off: the node saw what the seam produced.
        assert any(kind == "out" and payload.endswith(ON) for kind, _, payload in security.calls)
        assert emulator.node(2).state["switch"] == "off"
        await radio.settle()
        # The node's Binary Switch Report came in through decapsulate, which swallowed it.
        assert any(kind == "in" and payload[:2] == b"\x25\x03" for kind, _, payload in security.calls)
        # The only switch state is the one Supervision's SUCCESS implied, not the node's (swallowed) "off".
        switch = [
            e.value for e in log.events[mark:] if isinstance(e, StateChanged) and e.attribute == "switch"
        ]
        assert "off" not in switch
    finally:
        await radio.stop()


async def test_a_failed_bootstrap_leaves_the_node_included_without_security(
    tmp_path: Path, emulator: ZWaveEmulator
) -> None:
    security = Recording(fail_bootstrap=True)
    radio, _ = await include_switch(tmp_path, emulator, security)
    try:
        assert radio.nodes[2].interviewed
    finally:
        await radio.stop()
