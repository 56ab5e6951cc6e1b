"""The transaction machine at its edges (issue 19): the spec's default timeouts, an empty RetVal, and
inputs, actions and states that are immutable values (safe to share, compare and hash)."""

from __future__ import annotations

import dataclasses

import pytest

from radios.zwave import transaction as tx
from radios.zwave.frame import Frame, FrameType

SEND_DATA = Frame(FrameType.REQUEST, 0x13, bytes.fromhex("02032501ff2507"))


def test_the_default_timeouts_are_the_specs() -> None:
    assert tx.Timeouts() == tx.DEFAULT_TIMEOUTS
    assert dataclasses.astuple(tx.DEFAULT_TIMEOUTS) == (1.6, 10.0, 65.0, 0.1, 1.0)
    state, actions = tx.start(tx.Request(SEND_DATA, expects_response=True, callback_id=7))
    assert actions == [tx.Write(SEND_DATA), tx.SetTimer(1.6)]
    state, actions = tx.step(state, tx.AckIn())
    assert actions == [tx.SetTimer(10.0)]
    state, actions = tx.step(state, tx.FrameIn(Frame(FrameType.RESPONSE, 0x13, b"\x01")))
    assert actions == [tx.SetTimer(65.0)]


def test_an_empty_retval_is_not_accepted_either_way() -> None:
    for zero_is_accepted in (False, True):
        request = tx.Request(
            SEND_DATA, expects_response=True, callback_id=7, zero_is_accepted=zero_is_accepted
        )
        state, _ = tx.start(request)
        state, _ = tx.step(state, tx.AckIn())
        state, actions = tx.step(state, tx.FrameIn(Frame(FrameType.RESPONSE, 0x13, b"")))
        assert state.phase is tx.Phase.DONE and actions == [tx.CancelTimer(), tx.Finished()]


FRAME = Frame(FrameType.REQUEST, 0x13, b"\x01")
REQUEST = tx.Request(FRAME, expects_response=True)
VALUES: list[object] = [
    tx.Timeouts(),
    tx.Completion(0x49, (b"\x84",)),
    REQUEST,
    tx.State(REQUEST),
    tx.Begin(),
    tx.AckIn(),
    tx.NakIn(),
    tx.CanIn(),
    tx.FrameIn(FRAME),
    tx.TimerFired(),
    tx.Write(FRAME),
    tx.SetTimer(1.0),
    tx.CancelTimer(),
    tx.Unsolicited(FRAME),
    tx.Finished(),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_input_action_and_state_is_an_immutable_value(value: object) -> None:
    fields = dataclasses.fields(value)  # type: ignore[arg-type]
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, fields[0].name, None)
    else:
        # Python 3.11's frozen+slots __setattr__ raises TypeError for a name that is not a field;
        # a mutable class would raise AttributeError (slots) or accept it (no slots).
        with pytest.raises((dataclasses.FrozenInstanceError, TypeError)):
            value.anything = 1  # type: ignore[attr-defined]
    assert not hasattr(value, "__dict__")  # slots: a transaction per command stays small
    assert hash(value) == hash(dataclasses.replace(value))  # type: ignore[type-var]
    assert value == dataclasses.replace(value)  # type: ignore[type-var]
