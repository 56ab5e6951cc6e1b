"""The S2 key exchange (KEX) of an including controller, as a pure state machine (SDS13783 3.6.6).

Rules of this file: `step(state, event) -> (state, actions)` and nothing else; no I/O, no clock,
no randomness (our ECDH private key comes in with `Start`). The driver performs the actions:
sends frames (plain, under the temporary key, or under a class), arms the one timer, asks the user
for the PIN, installs the temporary key in the `S2Session`, and persists the result.

    Start --KEX Get--> AWAIT_KEX_REPORT --KEX Set--> AWAIT_PUBLIC_KEY --our Public Key-->
      [AWAIT_PIN: S2 Authenticated / Access Control only; the user types the DSK's first 5 digits]
    AWAIT_KEX_SET_ECHO (temporary key) --KEX Report echo--> AWAIT_KEY_GET --Network Key Report-->
    AWAIT_KEY_VERIFY (under the new key) --Transfer End(verified)--> AWAIT_KEY_GET | AWAIT_TRANSFER_END
    --Transfer End(complete)--> DONE

Every failure ends in FAILED with a reason for the event stream and, where the spec asks for it, a
KEX Fail to the node. We grant only classes the node requests, the user allows and we hold keys for.
CSA (client-side authentication) is never granted: a node requesting it is refused (KEX Fail CANCEL).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum

from .classes import NEEDS_PIN, SecurityClass, dsk_hidden
from .kdf import DerivedKeys, compute_prk, derive_temp_keys
from .primitives import x25519_shared
from .s2_cc import (
    CURVE_25519,
    KEX_SCHEME_1,
    KexFail,
    KexFailType,
    KexGet,
    KexReport,
    KexSet,
    NetworkKeyGet,
    NetworkKeyVerify,
    PublicKeyReport,
    S2Frame,
    TransferEnd,
)

# SDS13783 table "Timeouts": TA1-TA5 for the including node's waits, TAI2 for the whole PIN entry.
TA = 10.0
TAI2 = 240.0


class Plain(Enum):
    """Marker: a frame sent or received without S2 encapsulation."""

    PLAIN = 0


PLAIN = Plain.PLAIN
Via = SecurityClass | Plain | None  # None: the temporary key


class Phase(IntEnum):
    """Where the exchange stands."""

    AWAIT_KEX_REPORT = 1
    AWAIT_PUBLIC_KEY = 2
    AWAIT_PIN = 3
    AWAIT_KEX_SET_ECHO = 4
    AWAIT_KEY_GET = 5
    AWAIT_KEY_VERIFY = 6
    AWAIT_TRANSFER_END = 7
    DONE = 8
    FAILED = 9


@dataclass(frozen=True, slots=True)
class KexState:
    """The exchange with one joining node."""

    phase: Phase
    allowed: frozenset[SecurityClass]
    own_private: bytes = field(default=b"", repr=False)
    own_public: bytes = b""
    report: KexReport | None = None
    granted: frozenset[SecurityClass] = frozenset()
    node_public: bytes = b""
    delivered: frozenset[SecurityClass] = frozenset()
    verifying: SecurityClass | None = None

    @property
    def finished(self) -> bool:
        """DONE or FAILED."""
        return self.phase in (Phase.DONE, Phase.FAILED)

    @property
    def dsk(self) -> bytes:
        """The node's DSK (first 16 bytes of its public key, PIN filled in once known)."""
        return self.node_public[:16]


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    """A Security 2 command from the joining node and how it arrived."""

    frame: S2Frame
    via: Via


@dataclass(frozen=True, slots=True)
class PinEntered:
    """The user's 5-digit PIN as its 16-bit value."""

    pin: int


@dataclass(frozen=True, slots=True)
class Undecryptable:
    """A frame from the node did not open under the temporary key (a wrong PIN, typically)."""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The timer of the current phase ran out."""


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The user or the hub gave up."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The host will not go on with this node (a SmartStart node whose key is not its provisioned DSK)."""

    reason: str


Event = Received | PinEntered | Undecryptable | TimedOut | Cancelled | Refused


# --- actions --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send this frame to the node, plain or encapsulated (`via`)."""

    frame: S2Frame
    via: Via


@dataclass(frozen=True, slots=True)
class SendNetworkKey:
    """Send Network Key Report for `key` under the temporary key (the driver holds the keys)."""

    key: SecurityClass


@dataclass(frozen=True, slots=True)
class ArmTimer:
    """(Re)arm the single exchange timer."""

    seconds: float


@dataclass(frozen=True, slots=True)
class AskPin:
    """Ask the user for the PIN; `dsk` has its first 5 digits hidden."""

    dsk: str


@dataclass(frozen=True, slots=True)
class InstallTempKey:
    """Install the temporary key for the node in the S2 session."""

    keys: DerivedKeys


@dataclass(frozen=True, slots=True)
class SetGranted:
    """The classes the S2 session may open the node's frames with (the key being verified included)."""

    keys: frozenset[SecurityClass]


@dataclass(frozen=True, slots=True)
class ResetSpan:
    """Drop the SPAN with the node (the next frame needs a fresh nonce exchange)."""


@dataclass(frozen=True, slots=True)
class Finished:
    """Bootstrapping succeeded: persist `granted`; drop the temporary key."""

    granted: frozenset[SecurityClass]
    dsk: bytes


@dataclass(frozen=True, slots=True)
class Failed:
    """Bootstrapping failed: the node holds no S2 key; `reason` goes to the event stream."""

    reason: str
    fail_type: KexFailType | None


Action = (
    Send | SendNetworkKey | ArmTimer | AskPin | InstallTempKey | SetGranted | ResetSpan | Finished | Failed
)
Result = tuple[KexState, list[Action]]


def start(allowed: frozenset[SecurityClass], own_private: bytes, own_public: bytes) -> Result:
    """Begin bootstrapping: KEX Get, plain. `allowed` = classes the user allows and we hold keys for."""
    state = KexState(Phase.AWAIT_KEX_REPORT, allowed, own_private, own_public)
    return state, [Send(KexGet(), PLAIN), ArmTimer(TA)]


def _fail(state: KexState, reason: str, fail_type: KexFailType | None, notify: bool = True) -> Result:
    actions: list[Action] = []
    if notify and fail_type is not None:
        # Under the temporary key once both sides hold it, else plain (SDS13783 "KEX Fail").
        temp = state.phase in (Phase.AWAIT_KEY_GET, Phase.AWAIT_KEY_VERIFY, Phase.AWAIT_TRANSFER_END)
        actions.append(Send(KexFail(fail_type), None if temp else PLAIN))
    actions.append(Failed(reason, fail_type))
    return replace(state, phase=Phase.FAILED), actions


def _temp_keys(state: KexState, node_public: bytes) -> DerivedKeys:
    shared = x25519_shared(state.own_private, node_public)
    return derive_temp_keys(compute_prk(shared, state.own_public, node_public))


def step(state: KexState, event: Event) -> Result:
    """Advance the exchange by one event."""
    if state.finished:
        return state, []
    match event:
        case TimedOut():
            return _fail(state, f"timed out in {state.phase.name.lower()}", KexFailType.CANCEL)
        case Cancelled():
            return _fail(state, "cancelled", KexFailType.CANCEL)
        case Refused(reason=reason):
            return _fail(state, reason, KexFailType.AUTH)
        case Undecryptable():
            if state.phase is Phase.AWAIT_KEX_SET_ECHO:
                return _fail(state, "the node's KEX Set did not decrypt: wrong PIN?", KexFailType.DECRYPT)
            return state, []
        case PinEntered(pin=pin):
            if state.phase is not Phase.AWAIT_PIN:
                return state, []
            node_public = pin.to_bytes(2, "big") + state.node_public[2:]
            return _with_temp_key(replace(state, node_public=node_public))
        case Received(frame=KexFail(fail_type=kind)):
            name = KexFailType(kind).name if kind in KexFailType._value2member_map_ else f"0x{kind:02x}"
            return _fail(state, f"the node cancelled the key exchange ({name})", None)
        case Received(frame=frame, via=via):
            return _received(state, frame, via)
    return state, []  # pragma: no cover - Event is exhaustive


def _with_temp_key(state: KexState) -> Result:
    try:
        keys = _temp_keys(state, state.node_public)
    except ValueError:
        return _fail(state, "the node's public key is not a valid X25519 key", KexFailType.KEX_CURVES)
    return replace(state, phase=Phase.AWAIT_KEX_SET_ECHO), [InstallTempKey(keys)]


def _received(state: KexState, frame: S2Frame, via: Via) -> Result:
    match state.phase, frame:
        case Phase.AWAIT_KEX_REPORT, KexReport(echo=False) if via is PLAIN:
            return _on_kex_report(state, frame)
        case Phase.AWAIT_PUBLIC_KEY, PublicKeyReport(including_node=False) if via is PLAIN:
            state = replace(state, node_public=frame.public_key)
            sent: list[Action] = [Send(PublicKeyReport(True, state.own_public), PLAIN), ArmTimer(TAI2)]
            if state.granted & NEEDS_PIN:
                return replace(state, phase=Phase.AWAIT_PIN), [*sent, AskPin(dsk_hidden(state.dsk))]
            state, more = _with_temp_key(state)
            return state, [*sent, *more]
        case Phase.AWAIT_KEX_SET_ECHO, KexSet():
            report = state.report
            assert report is not None
            if via is not None:
                return _fail(state, "KEX Set echo not under the temporary key", KexFailType.AUTH)
            if not frame.echo or frame.reserved or frame.keys != state.granted:
                return _fail(state, "KEX Set echo does not match what we granted", KexFailType.AUTH)
            echo = replace(report, echo=True)
            return replace(state, phase=Phase.AWAIT_KEY_GET), [Send(echo, None), ArmTimer(TA)]
        case Phase.AWAIT_KEY_GET, NetworkKeyGet(key=key):
            if via is not None:
                return _fail(state, "Network Key Get not under the temporary key", KexFailType.AUTH)
            if key not in state.granted:
                return _fail(state, f"the node asked for {key.wire_name}, not granted", KexFailType.GET)
            state = replace(state, phase=Phase.AWAIT_KEY_VERIFY, verifying=key)
            return state, [SetGranted(state.delivered | {key}), SendNetworkKey(key), ArmTimer(TA)]
        case Phase.AWAIT_KEY_VERIFY, NetworkKeyVerify():
            if via is not state.verifying:
                return _fail(state, "Network Key Verify not under the key just sent", KexFailType.VERIFY)
            assert state.verifying is not None
            delivered = state.delivered | {state.verifying}
            nxt = Phase.AWAIT_KEY_GET if delivered != state.granted else Phase.AWAIT_TRANSFER_END
            state = replace(state, phase=nxt, delivered=delivered, verifying=None)
            return state, [ResetSpan(), Send(TransferEnd(True, False), None), ArmTimer(TA)]
        case Phase.AWAIT_TRANSFER_END, TransferEnd(key_request_complete=True):
            if via is not None:
                return _fail(state, "Transfer End not under the temporary key", KexFailType.AUTH)
            return replace(state, phase=Phase.DONE), [ResetSpan(), Finished(state.granted, state.dsk)]
    return state, []  # repeats and strays are ignored; the timer bounds the wait


def _on_kex_report(state: KexState, report: KexReport) -> Result:
    if not report.schemes & KEX_SCHEME_1:
        return _fail(state, "the node supports no known key exchange scheme", KexFailType.KEX_SCHEME)
    if not report.profiles & CURVE_25519:
        return _fail(state, "the node supports no known ECDH curve", KexFailType.KEX_CURVES)
    if report.request_csa:
        return _fail(
            state, "the node asks for client-side authentication, which we do not offer", KexFailType.CANCEL
        )
    granted = report.keys & state.allowed
    if not granted:
        requested = ", ".join(sorted(k.wire_name for k in report.keys)) or "nothing"
        return _fail(state, f"no requested class may be granted (requested {requested})", KexFailType.KEX_KEY)
    grant = KexSet(False, False, KEX_SCHEME_1, CURVE_25519, granted)
    state = replace(state, phase=Phase.AWAIT_PUBLIC_KEY, report=report, granted=granted)
    return state, [Send(grant, PLAIN), ArmTimer(TA)]
