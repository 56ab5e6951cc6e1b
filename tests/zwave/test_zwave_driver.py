"""The asyncio driver against the pty controller emulator, with each fault the emulator can inject."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from radios.sim.zwave_emulator import ZWaveEmulator
from radios.sim.zwave_nodes import household
from radios.zwave.driver import Driver
from radios.zwave.errors import ControllerReset, SerialClosed, TransactionFailed
from radios.zwave.frame import Frame
from radios.zwave.messages import (
    ApplicationCommandHandler,
    FunctionId,
    GetControllerVersionRequest,
    GetControllerVersionResponse,
    MemoryGetIdRequest,
    MemoryGetIdResponse,
    Message,
    SendDataAbortRequest,
    SendDataCallback,
    SendDataRequest,
    SendDataResponse,
    TransmitStatus,
    UnknownMessage,
)
from radios.zwave.transaction import Timeouts

FAST = Timeouts(ack=0.3, response=1.0, callback=0.5, retry_base=0.02, retry_step=0.1)
SWITCH_ON = bytes((0x25, 0x01, 0xFF))


@dataclass
class Rig:
    emulator: ZWaveEmulator
    driver: Driver
    messages: asyncio.Queue[Message | UnknownMessage] = field(default_factory=asyncio.Queue)
    lost: list[Exception] = field(default_factory=list)

    async def next_message(self, kind: type[Message]) -> Message:
        async with asyncio.timeout(3):
            while True:
                message = await self.messages.get()
                if isinstance(message, kind):
                    return message


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    emulator = ZWaveEmulator()
    await emulator.start()
    emulator.add_node(household()[0])  # node 2: a switch with a meter
    queue: asyncio.Queue[Message | UnknownMessage] = asyncio.Queue()
    lost: list[Exception] = []
    driver = Driver(emulator.port_path, on_message=queue.put_nowait, on_lost=lost.append, timeouts=FAST)
    await driver.open()
    try:
        yield Rig(emulator, driver, queue, lost)
    finally:
        await driver.close()
        await emulator.stop()


async def test_request_response(rig: Rig) -> None:
    result = await rig.driver.request(GetControllerVersionRequest())
    assert result.response == GetControllerVersionResponse("Z-Wave 7.18", 0x07)
    result = await rig.driver.request(MemoryGetIdRequest())
    assert result.response == MemoryGetIdResponse(rig.emulator.home_id, 1)
    await rig.driver.request(GetControllerVersionRequest())
    # the host ACKed the earlier responses (each as its own write) before writing the next request
    assert rig.emulator.acks_received >= 2


async def test_send_data_callback_and_report(rig: Rig) -> None:
    result = await rig.driver.request(SendDataRequest(2, SWITCH_ON))
    assert result.response == SendDataResponse(True)
    assert isinstance(result.callback, SendDataCallback)
    assert result.callback.status is TransmitStatus.OK
    report = await rig.next_message(ApplicationCommandHandler)
    assert isinstance(report, ApplicationCommandHandler)
    assert (report.node_id, report.data) == (2, bytes((0x25, 0x03, 0xFF)))
    assert rig.emulator.node(2).state["switch"] == "on"


async def test_callback_ids_increase_and_skip_zero(rig: Rig) -> None:
    ids = []
    for _ in range(3):
        result = await rig.driver.request(SendDataRequest(2, bytes((0x25, 0x02))))
        assert isinstance(result.callback, SendDataCallback)
        ids.append(result.callback.session_id)
    assert ids == [1, 2, 3]


@pytest.mark.parametrize("fault", ["nak", "can", "ignore"])
async def test_retransmits_after_one_fault(rig: Rig, fault: str) -> None:
    setattr(rig.emulator.faults, fault, 1)
    result = await rig.driver.request(GetControllerVersionRequest())
    assert isinstance(result.response, GetControllerVersionResponse)
    assert rig.driver.frames_out == 2
    assert len(rig.emulator.frames_of(FunctionId.GET_CONTROLLER_VERSION)) == 1


@pytest.mark.parametrize(("fault", "reason"), [("nak", "NAK"), ("can", "CAN"), ("ignore", "NO_ACK")])
async def test_fails_after_three_attempts(rig: Rig, fault: str, reason: str) -> None:
    setattr(rig.emulator.faults, fault, 3)
    with pytest.raises(TransactionFailed) as caught:
        await rig.driver.request(GetControllerVersionRequest())
    assert caught.value.reason == reason
    assert caught.value.function == FunctionId.GET_CONTROLLER_VERSION
    assert rig.driver.frames_out == 3
    # the link is still usable afterwards
    assert isinstance((await rig.driver.request(MemoryGetIdRequest())).response, MemoryGetIdResponse)


async def test_lost_ack_response_counts_as_ack(rig: Rig) -> None:
    rig.emulator.faults.lost_ack = 1
    result = await rig.driver.request(GetControllerVersionRequest())
    assert isinstance(result.response, GetControllerVersionResponse)
    assert rig.driver.frames_out == 1  # no retransmission


async def test_garbage_before_a_response_is_skipped(rig: Rig) -> None:
    rig.emulator.faults.garbage = b"\xff\x00\x42"
    result = await rig.driver.request(GetControllerVersionRequest())
    assert isinstance(result.response, GetControllerVersionResponse)
    assert rig.driver.garbage_bytes == 3


async def test_refused_send_data_returns_without_callback(rig: Rig) -> None:
    rig.emulator.faults.refuse_send_data = 1
    result = await rig.driver.request(SendDataRequest(2, SWITCH_ON))
    assert result.response == SendDataResponse(False)
    assert result.callback is None


async def test_missing_callback_times_out_and_abort_releases_the_stick(rig: Rig) -> None:
    rig.emulator.faults.missing_callback = 1
    with pytest.raises(TransactionFailed) as caught:
        await rig.driver.request(SendDataRequest(2, SWITCH_ON))
    assert caught.value.reason == "NO_CALLBACK"
    rig.driver.write_unacknowledged(SendDataAbortRequest())
    # The late callback (status FAIL) is nobody's any more: it arrives as an unsolicited message.
    late = await rig.next_message(SendDataCallback)
    assert isinstance(late, SendDataCallback) and late.status is TransmitStatus.FAIL
    result = await rig.driver.request(SendDataRequest(2, SWITCH_ON))
    assert isinstance(result.callback, SendDataCallback) and result.callback.status is TransmitStatus.OK


async def test_unsolicited_report_delivered_while_transaction_in_flight(rig: Rig) -> None:
    rig.emulator.faults.missing_callback = 1
    pending = asyncio.ensure_future(rig.driver.request(SendDataRequest(2, SWITCH_ON)))
    await rig.emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    rig.emulator.node(2).report("switch", "on")
    report = await rig.next_message(ApplicationCommandHandler)
    assert isinstance(report, ApplicationCommandHandler) and report.node_id == 2
    assert not pending.done()
    rig.driver.write_unacknowledged(SendDataAbortRequest())
    result = await pending
    assert isinstance(result.callback, SendDataCallback) and result.callback.status is TransmitStatus.FAIL


async def test_stick_reset_fails_the_transaction_in_flight(rig: Rig) -> None:
    rig.emulator.faults.missing_callback = 1
    pending = asyncio.ensure_future(rig.driver.request(SendDataRequest(2, SWITCH_ON)))
    await rig.emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    rig.emulator.reset()
    with pytest.raises(ControllerReset):
        await pending


async def test_cancelled_send_data_is_aborted(rig: Rig) -> None:
    rig.emulator.faults.missing_callback = 1
    acks = rig.emulator.acks_received
    pending = asyncio.ensure_future(rig.driver.request(SendDataRequest(2, SWITCH_ON)))
    await rig.emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    # The host ACKs the response once it has processed it: it now waits for the callback.
    await rig.emulator.wait_for_acks(acks + 1)
    abort = asyncio.ensure_future(
        rig.emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA_ABORT)
    )
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert isinstance(await abort, Frame)


async def test_unplug_fails_pending_and_later_requests(rig: Rig) -> None:
    rig.emulator.faults.missing_callback = 1
    pending = asyncio.ensure_future(rig.driver.request(SendDataRequest(2, SWITCH_ON)))
    await rig.emulator.wait_for_frame(lambda f: f.function == FunctionId.SEND_DATA)
    rig.emulator.unplug()
    with pytest.raises(SerialClosed):
        await pending
    assert len(rig.lost) == 1 and isinstance(rig.lost[0], SerialClosed)
    assert not rig.driver.is_open
    with pytest.raises(SerialClosed):
        await rig.driver.request(GetControllerVersionRequest())


async def test_bad_checksum_from_controller_is_naked(rig: Rig) -> None:
    frame = ApplicationCommandHandler(0, 2, bytes((0x25, 0x03, 0xFF))).to_frame().to_bytes()
    rig.emulator._write(frame[:-1] + bytes((frame[-1] ^ 0xFF,)))
    rig.emulator._write(frame)
    report = await rig.next_message(ApplicationCommandHandler)
    assert isinstance(report, ApplicationCommandHandler)
    assert rig.emulator.naks_received == 1


async def test_open_fails_cleanly_on_missing_port() -> None:
    driver = Driver("/nonexistent/ttyZW9", on_message=lambda m: None)
    with pytest.raises(SerialClosed, match="cannot open"):
        await driver.open()
    with pytest.raises(SerialClosed):
        await driver.request(GetControllerVersionRequest())


async def test_random_fault_soak_never_hangs_and_the_link_survives(rig: Rig) -> None:
    rng = random.Random(3)
    knobs = ["nak", "can", "lost_ack", "ignore", "missing_callback", "refuse_send_data"]
    outcomes: dict[str, int] = {}
    quick = Timeouts(ack=0.1, response=0.3, callback=0.15, retry_base=0.01, retry_step=0.02)
    for _ in range(30):
        for knob in rng.sample(knobs, rng.randint(0, 2)):
            setattr(rig.emulator.faults, knob, rng.randint(1, 3))
        if rng.random() < 0.3:
            rig.emulator.faults.garbage = bytes(rng.randrange(256) for _ in range(rng.randint(1, 5)))
        try:
            async with asyncio.timeout(5):
                result = await rig.driver.request(SendDataRequest(2, SWITCH_ON), timeouts=quick)
            outcome = "refused" if result.callback is None else "delivered"
        except TransactionFailed as exc:
            outcome = exc.reason
            if exc.reason == "NO_CALLBACK":
                rig.driver.write_unacknowledged(SendDataAbortRequest())
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        rig.emulator.faults = type(rig.emulator.faults)()
    assert outcomes.get("delivered", 0) > 10
    # after all that, a clean request works
    result = await rig.driver.request(SendDataRequest(2, SWITCH_ON))
    assert isinstance(result.callback, SendDataCallback) and result.callback.status is TransmitStatus.OK
