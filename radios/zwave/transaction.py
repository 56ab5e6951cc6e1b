"""One Serial API transaction as a pure state machine: send -> ACK -> response -> callback.

Rules of this file:
- `step(state, input) -> (state, actions)` is a pure function: no I/O, no clock, no asyncio, no logging.
  The driver performs the actions (write bytes, arm or cancel the one timer) and feeds back what happens
  (ACK, NAK, CAN, frames, the timer firing) as inputs.
- One transaction owns the link at a time (INS12350 6.1: one outstanding request).
- NAK, CAN and a missing ACK cause a retransmission after 100 ms + 1 s * n (n = retransmissions so
  far), three attempts in all (INS12350 6.3); after that the transaction fails.
- A frame that is not this transaction's response or callback is handed back as `Unsolicited`.
- A matching response while still waiting for the ACK, or for a retransmission, counts as the ACK:
  the controller did get the request (only its ACK was lost), so it must not get it twice.
- Some requests end with an unsolicited frame instead of a callback (RequestNodeInfo ends with the
  ApplicationUpdate carrying the NIF or the failure): a `Completion` says which frame, and the
  transaction waits for it as for a callback, so the link stays ours until the stick is idle again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeAlias

from radios.zwave.frame import Frame, FrameType

MAX_ATTEMPTS = 3
#: INS12350 6.2.2 / 6.3: ACK within 1600 ms, a response within 10 s; SendData callbacks within 65 s.
ACK_TIMEOUT = 1.6
RESPONSE_TIMEOUT = 10.0
CALLBACK_TIMEOUT = 65.0


def retransmit_delay(retransmissions: int, base: float = 0.1, step: float = 1.0) -> float:
    """INS12350 6.3 back-off before retransmission number `retransmissions + 1`."""
    return base + step * retransmissions


def next_callback_id(previous: int) -> int:
    """The callback id after `previous`: 1..255, wrapping, never 0 (0 means 'no callback')."""
    return previous % 255 + 1


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long each phase may take, in seconds."""

    ack: float = ACK_TIMEOUT
    response: float = RESPONSE_TIMEOUT
    callback: float = CALLBACK_TIMEOUT
    #: Retransmission back-off: `retry_base + retry_step * n` (the guide's 100 ms + 1 s * n).
    retry_base: float = 0.1
    retry_step: float = 1.0


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class Completion:
    """The unsolicited request frame that ends a transaction in place of a callback."""

    function: int
    #: The frame's payload starts with one of these (e.g. state and node id of an ApplicationUpdate).
    prefixes: tuple[bytes, ...]

    def matches(self, frame: Frame) -> bool:
        """True if `frame` is the completion."""
        return (
            frame.type is FrameType.REQUEST
            and frame.function == self.function
            and any(frame.payload.startswith(prefix) for prefix in self.prefixes)
        )


@dataclass(frozen=True, slots=True)
class Request:
    """What the machine needs to know about the request it carries."""

    frame: Frame
    expects_response: bool
    #: Callback id to match in byte 0 of the callback's payload; None if no callback is expected.
    callback_id: int | None = None
    #: Whether RetVal 0 means "accepted" (RemoveFailedNode) instead of the usual non-zero.
    zero_is_accepted: bool = False
    #: The unsolicited frame that ends this request, for requests without a callback id.
    completion: Completion | None = None

    @property
    def ends_later(self) -> bool:
        """True if a callback or a completion frame, not the response, ends the transaction."""
        return self.callback_id is not None or self.completion is not None


class Phase(StrEnum):
    """Where a transaction is."""

    NEW = "new"
    WAIT_ACK = "wait_ack"
    WAIT_RETRY = "wait_retry"
    WAIT_RESPONSE = "wait_response"
    WAIT_CALLBACK = "wait_callback"
    DONE = "done"
    FAILED = "failed"


class Failure(StrEnum):
    """Why a transaction failed."""

    NO_ACK = "no ACK from the controller"
    NAK = "the controller NAKed the frame"
    CAN = "the controller cancelled the frame (collision)"
    NO_RESPONSE = "no response from the controller"
    NO_CALLBACK = "no callback from the controller"


@dataclass(frozen=True, slots=True)
class State:
    """A transaction's state; `attempts` counts frames written so far."""

    request: Request
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    phase: Phase = Phase.NEW
    attempts: int = 0
    #: Why the last attempt went wrong (reported if it was the last one).
    last_problem: Failure | None = None
    response: Frame | None = None
    callback: Frame | None = None
    failure: Failure | None = None

    @property
    def finished(self) -> bool:
        """True once the transaction is done or failed."""
        return self.phase in (Phase.DONE, Phase.FAILED)


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Begin:
    """Start the transaction."""


@dataclass(frozen=True, slots=True)
class AckIn:
    """An ACK arrived."""


@dataclass(frozen=True, slots=True)
class NakIn:
    """A NAK arrived."""


@dataclass(frozen=True, slots=True)
class CanIn:
    """A CAN arrived."""


@dataclass(frozen=True, slots=True)
class FrameIn:
    """A data frame arrived (already ACKed by the framing layer)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The timer armed by the last SetTimer fired."""


Input: TypeAlias = Begin | AckIn | NakIn | CanIn | FrameIn | TimerFired

# --- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """Write this frame to the link."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class SetTimer:
    """(Re)arm the transaction's one timer; replaces any armed timer."""

    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm the timer."""


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """This frame is not ours: deliver it to whoever handles unsolicited frames."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Finished:
    """The transaction ended (see the state's phase, response, callback, failure)."""


Action: TypeAlias = Write | SetTimer | CancelTimer | Unsolicited | Finished


def start(request: Request, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> tuple[State, list[Action]]:
    """A new transaction, begun: returns its state and the first actions."""
    return step(State(request, timeouts), Begin())


def step(state: State, event: Input) -> tuple[State, list[Action]]:
    """The next state and the actions to perform, for one input."""
    if state.finished:
        if isinstance(event, FrameIn):
            return state, [Unsolicited(event.frame)]
        return state, []
    if isinstance(event, Begin):
        if state.phase is not Phase.NEW:
            return state, []
        return _send(state)
    if isinstance(event, FrameIn):
        return _frame(state, event.frame)
    phase = state.phase
    if isinstance(event, AckIn):
        if phase is not Phase.WAIT_ACK:
            return state, []  # a stray or duplicate ACK; nothing waits for it
        return _after_ack(state)
    if isinstance(event, NakIn | CanIn):
        if phase is not Phase.WAIT_ACK:
            return state, []
        return _retry(state, Failure.NAK if isinstance(event, NakIn) else Failure.CAN)
    # TimerFired
    if phase is Phase.WAIT_ACK:
        return _retry(state, Failure.NO_ACK)
    if phase is Phase.WAIT_RETRY:
        return _send(state)
    if phase is Phase.WAIT_RESPONSE:
        return _fail(state, Failure.NO_RESPONSE)
    if phase is Phase.WAIT_CALLBACK:
        return _fail(state, Failure.NO_CALLBACK)
    return state, []


def _send(state: State) -> tuple[State, list[Action]]:
    state = replace(state, phase=Phase.WAIT_ACK, attempts=state.attempts + 1)
    return state, [Write(state.request.frame), SetTimer(state.timeouts.ack)]


def _retry(state: State, problem: Failure) -> tuple[State, list[Action]]:
    if state.attempts >= MAX_ATTEMPTS:
        return _fail(state, problem)
    state = replace(state, phase=Phase.WAIT_RETRY, last_problem=problem)
    timeouts = state.timeouts
    return state, [SetTimer(retransmit_delay(state.attempts - 1, timeouts.retry_base, timeouts.retry_step))]


def _after_ack(state: State) -> tuple[State, list[Action]]:
    request = state.request
    if request.expects_response:
        return replace(state, phase=Phase.WAIT_RESPONSE), [SetTimer(state.timeouts.response)]
    if request.ends_later:
        return replace(state, phase=Phase.WAIT_CALLBACK), [SetTimer(state.timeouts.callback)]
    return replace(state, phase=Phase.DONE), [CancelTimer(), Finished()]


def _frame(state: State, frame: Frame) -> tuple[State, list[Action]]:
    request = state.request
    function = request.frame.function
    phase = state.phase
    if (
        phase in (Phase.WAIT_ACK, Phase.WAIT_RETRY, Phase.WAIT_RESPONSE)
        and request.expects_response
        and frame.type is FrameType.RESPONSE
        and frame.function == function
    ):
        state = replace(state, response=frame)
        if request.ends_later and _accepted(frame, request.zero_is_accepted):
            return replace(state, phase=Phase.WAIT_CALLBACK), [SetTimer(state.timeouts.callback)]
        # No callback follows a refused request (INS12350: RetVal false means "not queued").
        return replace(state, phase=Phase.DONE), [CancelTimer(), Finished()]
    if phase is Phase.WAIT_CALLBACK and _completes(request, frame):
        return replace(state, phase=Phase.DONE, callback=frame), [CancelTimer(), Finished()]
    return state, [Unsolicited(frame)]


def _completes(request: Request, frame: Frame) -> bool:
    """Is `frame` the callback (or the completion frame) that ends `request`?"""
    if request.completion is not None:
        return request.completion.matches(frame)
    return (
        frame.type is FrameType.REQUEST
        and frame.function == request.frame.function
        and frame.payload[:1] == bytes((request.callback_id or 0,))
    )


def _accepted(response: Frame, zero_is_accepted: bool) -> bool:
    """Byte 0 of a response that precedes a callback is RetVal: did the controller queue the request?"""
    if not response.payload:
        return False
    return (response.payload[0] == 0) == zero_is_accepted


def _fail(state: State, failure: Failure) -> tuple[State, list[Action]]:
    return replace(state, phase=Phase.FAILED, failure=failure), [CancelTimer(), Finished()]
