"""The pure transaction machine: every input in every phase."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radios.zwave import transaction as tx
from radios.zwave.frame import Frame, FrameType

SEND_DATA = Frame(FrameType.REQUEST, 0x13, bytes.fromhex("02032501ff2507"))
RESPONSE_OK = Frame(FrameType.RESPONSE, 0x13, b"\x01")
RESPONSE_REFUSED = Frame(FrameType.RESPONSE, 0x13, b"\x00")
CALLBACK = Frame(FrameType.REQUEST, 0x13, b"\x07\x00\x00\x01")
OTHER_CALLBACK = Frame(FrameType.REQUEST, 0x13, b"\x08\x00\x00\x01")
REPORT = Frame(FrameType.REQUEST, 0x04, b"\x00\x02\x03\x25\x03\xff")
TIMEOUTS = tx.Timeouts(ack=1.6, response=10.0, callback=65.0)

WITH_CALLBACK = tx.Request(SEND_DATA, expects_response=True, callback_id=7)
RESPONSE_ONLY = tx.Request(Frame(FrameType.REQUEST, 0x15), expects_response=True)
ACK_ONLY = tx.Request(Frame(FrameType.REQUEST, 0x16), expects_response=False)


def run(request: tx.Request, *inputs: tx.Input) -> tuple[tx.State, list[list[tx.Action]]]:
    state, first = tx.start(request, TIMEOUTS)
    log = [first]
    for event in inputs:
        state, actions = tx.step(state, event)
        log.append(actions)
    return state, log


def test_happy_path_send_ack_response_callback() -> None:
    state, log = run(WITH_CALLBACK, tx.AckIn(), tx.FrameIn(RESPONSE_OK), tx.FrameIn(CALLBACK))
    assert log[0] == [tx.Write(SEND_DATA), tx.SetTimer(1.6)]
    assert log[1] == [tx.SetTimer(10.0)]
    assert log[2] == [tx.SetTimer(65.0)]
    assert log[3] == [tx.CancelTimer(), tx.Finished()]
    assert state.phase is tx.Phase.DONE
    assert (state.response, state.callback, state.attempts) == (RESPONSE_OK, CALLBACK, 1)


def test_response_only_and_ack_only_requests() -> None:
    state, log = run(RESPONSE_ONLY, tx.AckIn(), tx.FrameIn(Frame(FrameType.RESPONSE, 0x15, b"x")))
    assert state.phase is tx.Phase.DONE and log[-1] == [tx.CancelTimer(), tx.Finished()]
    state, log = run(ACK_ONLY, tx.AckIn())
    assert state.phase is tx.Phase.DONE and log[-1] == [tx.CancelTimer(), tx.Finished()]


def test_refused_request_gets_no_callback_wait() -> None:
    state, _ = run(WITH_CALLBACK, tx.AckIn(), tx.FrameIn(RESPONSE_REFUSED))
    assert state.phase is tx.Phase.DONE
    assert state.callback is None and state.response == RESPONSE_REFUSED


def test_zero_is_accepted_requests_wait_for_callback_on_zero() -> None:
    request = tx.Request(
        Frame(FrameType.REQUEST, 0x61, b"\x05\x07"),
        expects_response=True,
        callback_id=7,
        zero_is_accepted=True,
    )
    state, _ = run(request, tx.AckIn(), tx.FrameIn(Frame(FrameType.RESPONSE, 0x61, b"\x00")))
    assert state.phase is tx.Phase.WAIT_CALLBACK
    state, _ = run(request, tx.AckIn(), tx.FrameIn(Frame(FrameType.RESPONSE, 0x61, b"\x08")))
    assert state.phase is tx.Phase.DONE


@pytest.mark.parametrize(
    ("bad", "failure"),
    [(tx.NakIn(), tx.Failure.NAK), (tx.CanIn(), tx.Failure.CAN), (tx.TimerFired(), tx.Failure.NO_ACK)],
)
def test_retransmits_with_backoff_then_fails_after_three_attempts(bad: tx.Input, failure: tx.Failure) -> None:
    state, log = run(WITH_CALLBACK, bad, tx.TimerFired(), bad, tx.TimerFired(), bad)
    # attempt 1 fails -> wait 100 ms; attempt 2 fails -> wait 1100 ms; attempt 3 fails -> give up.
    assert log[1] == [tx.SetTimer(pytest.approx(0.1))]
    assert log[2] == [tx.Write(SEND_DATA), tx.SetTimer(1.6)]
    assert log[3] == [tx.SetTimer(pytest.approx(1.1))]
    assert log[4] == [tx.Write(SEND_DATA), tx.SetTimer(1.6)]
    assert log[5] == [tx.CancelTimer(), tx.Finished()]
    assert state.phase is tx.Phase.FAILED and state.failure is failure and state.attempts == 3


def test_retry_then_success() -> None:
    state, _ = run(WITH_CALLBACK, tx.NakIn(), tx.TimerFired(), tx.AckIn(), tx.FrameIn(RESPONSE_OK))
    assert state.phase is tx.Phase.WAIT_CALLBACK and state.attempts == 2


def test_late_response_during_retry_wait_cancels_the_retransmission() -> None:
    state, log = run(WITH_CALLBACK, tx.TimerFired(), tx.FrameIn(RESPONSE_OK), tx.FrameIn(CALLBACK))
    assert log[1] == [tx.SetTimer(pytest.approx(0.1))]  # ACK timed out: retransmission pending
    assert log[2] == [tx.SetTimer(65.0)]  # the response came after all: wait for the callback
    assert state.phase is tx.Phase.DONE and state.attempts == 1


def test_response_while_waiting_for_ack_counts_as_ack() -> None:
    state, log = run(WITH_CALLBACK, tx.FrameIn(RESPONSE_OK), tx.FrameIn(CALLBACK))
    assert log[1] == [tx.SetTimer(65.0)]
    assert state.phase is tx.Phase.DONE


@pytest.mark.parametrize(
    ("inputs", "failure"),
    [
        ((tx.AckIn(), tx.TimerFired()), tx.Failure.NO_RESPONSE),
        ((tx.AckIn(), tx.FrameIn(RESPONSE_OK), tx.TimerFired()), tx.Failure.NO_CALLBACK),
    ],
)
def test_response_and_callback_timeouts_fail_without_retransmission(
    inputs: tuple[tx.Input, ...], failure: tx.Failure
) -> None:
    state, log = run(WITH_CALLBACK, *inputs)
    assert state.phase is tx.Phase.FAILED and state.failure is failure
    assert log[-1] == [tx.CancelTimer(), tx.Finished()]
    assert state.attempts == 1


def test_unrelated_frames_are_unsolicited_in_every_phase() -> None:
    for prefix in [(), (tx.AckIn(),), (tx.AckIn(), tx.FrameIn(RESPONSE_OK))]:
        state, log = run(WITH_CALLBACK, *prefix, tx.FrameIn(REPORT), tx.FrameIn(OTHER_CALLBACK))
        assert log[-2] == [tx.Unsolicited(REPORT)]
        assert log[-1] == [tx.Unsolicited(OTHER_CALLBACK)]
        assert not state.finished


def test_callback_before_response_is_not_taken_as_callback() -> None:
    state, log = run(WITH_CALLBACK, tx.AckIn(), tx.FrameIn(CALLBACK))
    assert log[-1] == [tx.Unsolicited(CALLBACK)]
    assert state.phase is tx.Phase.WAIT_RESPONSE


def test_stray_control_bytes_outside_wait_ack_are_ignored() -> None:
    state, log = run(WITH_CALLBACK, tx.AckIn(), tx.AckIn(), tx.NakIn(), tx.CanIn())
    assert log[2:] == [[], [], []]
    assert state.phase is tx.Phase.WAIT_RESPONSE


def test_finished_machine_ignores_everything_but_passes_frames_on() -> None:
    state, _ = run(ACK_ONLY, tx.AckIn())
    for event in (tx.AckIn(), tx.NakIn(), tx.CanIn(), tx.TimerFired(), tx.Begin()):
        assert tx.step(state, event) == (state, [])
    assert tx.step(state, tx.FrameIn(REPORT)) == (state, [tx.Unsolicited(REPORT)])


def test_begin_twice_does_nothing() -> None:
    state, _ = tx.start(ACK_ONLY)
    assert tx.step(state, tx.Begin()) == (state, [])


def test_backoff_is_the_guides_by_default_and_configurable() -> None:
    assert [tx.retransmit_delay(n) for n in range(3)] == pytest.approx([0.1, 1.1, 2.1])
    scaled = tx.Timeouts(retry_base=0.01, retry_step=0.05)
    state, _ = tx.start(WITH_CALLBACK, scaled)
    state, actions = tx.step(state, tx.NakIn())
    assert actions == [tx.SetTimer(pytest.approx(0.01))]
    state, _ = tx.step(state, tx.TimerFired())
    state, actions = tx.step(state, tx.NakIn())
    assert actions == [tx.SetTimer(pytest.approx(0.06))]


def test_callback_ids_wrap_and_skip_zero() -> None:
    assert tx.next_callback_id(0) == 1
    assert tx.next_callback_id(254) == 255
    assert tx.next_callback_id(255) == 1
    seen = set()
    current = 0
    for _ in range(600):
        current = tx.next_callback_id(current)
        seen.add(current)
    assert seen == set(range(1, 256))


inputs = st.one_of(
    st.just(tx.AckIn()),
    st.just(tx.NakIn()),
    st.just(tx.CanIn()),
    st.just(tx.TimerFired()),
    st.sampled_from(
        [tx.FrameIn(f) for f in (RESPONSE_OK, RESPONSE_REFUSED, CALLBACK, OTHER_CALLBACK, REPORT)]
    ),
)


@given(st.lists(inputs, max_size=30))
@settings(max_examples=300, deadline=None)
def test_property_machine_invariants(events: list[tx.Input]) -> None:
    state, _ = tx.start(WITH_CALLBACK)
    for event in events:
        before = state
        state, actions = tx.step(state, event)
        assert state.attempts <= tx.MAX_ATTEMPTS
        writes = [a for a in actions if isinstance(a, tx.Write)]
        assert len(writes) <= 1
        if writes:
            assert before.phase is tx.Phase.WAIT_RETRY
        if any(isinstance(a, tx.Finished) for a in actions):
            assert state.finished and not before.finished
        if state.phase is tx.Phase.DONE:
            assert state.response is not None
        if isinstance(event, tx.FrameIn) and event.frame is REPORT:
            assert actions == [tx.Unsolicited(REPORT)]


# --- requests that end with an unsolicited frame (RequestNodeInfo -> ApplicationUpdate) -----------

NODE_INFO = tx.Request(
    Frame(FrameType.REQUEST, 0x60, b"\x05"),
    expects_response=True,
    completion=tx.Completion(0x49, (b"\x84\x05", b"\x81")),
)
NIF_SENT = Frame(FrameType.RESPONSE, 0x60, b"\x01")
NIF_OF_5 = Frame(FrameType.REQUEST, 0x49, b"\x84\x05\x04\x04\x10\x01\x25")
NIF_OF_7 = Frame(FrameType.REQUEST, 0x49, b"\x84\x07\x04\x04\x10\x01\x25")
NIF_FAILED = Frame(FrameType.REQUEST, 0x49, b"\x81\x00\x00")


def test_a_completion_frame_ends_the_request_not_its_response() -> None:
    state, log = run(NODE_INFO, tx.AckIn(), tx.FrameIn(NIF_SENT))
    # The response only says the stick sent the request: the link stays ours until the NIF.
    assert state.phase is tx.Phase.WAIT_CALLBACK and log[-1] == [tx.SetTimer(65.0)]
    # Another node's NIF (a sleeper waking up) is not ours; a report in between is not either.
    state, actions = tx.step(state, tx.FrameIn(NIF_OF_7))
    assert actions == [tx.Unsolicited(NIF_OF_7)] and state.phase is tx.Phase.WAIT_CALLBACK
    state, actions = tx.step(state, tx.FrameIn(REPORT))
    assert actions == [tx.Unsolicited(REPORT)]
    state, actions = tx.step(state, tx.FrameIn(NIF_OF_5))
    assert actions == [tx.CancelTimer(), tx.Finished()]
    assert state.phase is tx.Phase.DONE and state.callback == NIF_OF_5


def test_a_failure_notice_also_completes_and_silence_times_out() -> None:
    state, _ = run(NODE_INFO, tx.AckIn(), tx.FrameIn(NIF_SENT), tx.FrameIn(NIF_FAILED))
    assert state.phase is tx.Phase.DONE and state.callback == NIF_FAILED
    state, _ = run(NODE_INFO, tx.AckIn(), tx.FrameIn(NIF_SENT), tx.TimerFired())
    assert state.phase is tx.Phase.FAILED and state.failure is tx.Failure.NO_CALLBACK
    # Not sent (RetVal 0): nothing will follow, so the request is over at the response.
    state, _ = run(NODE_INFO, tx.AckIn(), tx.FrameIn(Frame(FrameType.RESPONSE, 0x60, b"\x00")))
    assert state.phase is tx.Phase.DONE and state.callback is None


def test_a_request_without_response_waits_for_its_completion_after_the_ack() -> None:
    soft_reset = tx.Request(
        Frame(FrameType.REQUEST, 0x08), expects_response=False, completion=tx.Completion(0x0A, (b"",))
    )
    started = Frame(FrameType.REQUEST, 0x0A, b"\x00\x01\x02")
    state, log = run(soft_reset, tx.AckIn(), tx.FrameIn(started))
    assert log[1] == [tx.SetTimer(65.0)]
    assert state.phase is tx.Phase.DONE and state.callback == started


node_info_inputs = st.one_of(
    st.just(tx.AckIn()),
    st.just(tx.NakIn()),
    st.just(tx.TimerFired()),
    st.sampled_from(
        [
            tx.FrameIn(f)
            for f in (
                NIF_SENT,
                Frame(FrameType.RESPONSE, 0x60, b"\x00"),
                NIF_OF_5,
                NIF_OF_7,
                NIF_FAILED,
                REPORT,
            )
        ]
    ),
)


@given(st.lists(node_info_inputs, max_size=30))
@settings(max_examples=300, deadline=None)
def test_property_a_sent_node_info_request_ends_only_with_its_completion(events: list[tx.Input]) -> None:
    state, _ = tx.start(NODE_INFO)
    for event in events:
        state, actions = tx.step(state, event)
        if state.phase is tx.Phase.DONE:
            assert state.response is not None
            if state.response == NIF_SENT:
                # Accepted: over only with the node's NIF or the failure notice, never another's.
                assert state.callback in (NIF_OF_5, NIF_FAILED)
            else:
                assert state.callback is None
        if isinstance(event, tx.FrameIn) and event.frame == NIF_OF_7:
            assert actions == [tx.Unsolicited(NIF_OF_7)]
