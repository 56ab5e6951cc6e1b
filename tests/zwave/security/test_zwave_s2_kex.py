"""The KEX step machine driven end to end against a joining node built from the same S2 primitives.

The hub side is exactly what the radio will run (kex.step + S2Session); the joining node follows
SDS13783's joining-node rules, so a wrong key, PIN or echo on either side shows up as a failure.
The same flows run against zwave-js's mock nodes in test_zwave_s2_mock.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from radios.zwave.security import kex
from radios.zwave.security.classes import SecurityClass, dsk_hidden
from radios.zwave.security.errors import DecryptFailed
from radios.zwave.security.kdf import compute_prk, derive_temp_keys
from radios.zwave.security.primitives import x25519_keypair, x25519_shared
from radios.zwave.security.s2_cc import (
    CURVE_25519,
    KEX_SCHEME_1,
    KexFail,
    KexFailType,
    KexGet,
    KexReport,
    KexSet,
    NetworkKeyGet,
    NetworkKeyReport,
    NetworkKeyVerify,
    PublicKeyReport,
    S2Frame,
    TransferEnd,
    decode_s2,
)
from radios.zwave.security.s2_encap import S2Session

HUB, NODE, HOME = 1, 12, 0x0A0B0C0D
KEYS = {
    SecurityClass.S2_ACCESS_CONTROL: bytes.fromhex("11" * 16),
    SecurityClass.S2_AUTHENTICATED: bytes.fromhex("22" * 16),
    SecurityClass.S2_UNAUTHENTICATED: bytes.fromhex("33" * 16),
    SecurityClass.S0_LEGACY: bytes.fromhex("44" * 16),
}
ALL = frozenset(KEYS)
NODE_PRIVATE = bytes(range(1, 33))
NODE_PUBLIC = x25519_keypair(NODE_PRIVATE)[1]
RIGHT_PIN = int.from_bytes(NODE_PUBLIC[:2], "big")


@dataclass
class JoiningNode:
    """A joining node per SDS13783: requests `wants`, zeroes its PIN bytes when asking for S2 auth classes."""

    wants: frozenset[SecurityClass]
    session: S2Session = field(init=False)
    granted: frozenset[SecurityClass] = frozenset()
    received: dict[SecurityClass, bytes] = field(default_factory=dict)
    order: list[SecurityClass] = field(default_factory=list)
    fail_with: KexFailType | None = None

    def __post_init__(self) -> None:
        self.session = S2Session({}, home_id=HOME, own_node_id=NODE)

    def on(self, frame: S2Frame, world: World) -> None:
        match frame:
            case KexGet():
                world.node_sends(KexReport(False, False, KEX_SCHEME_1, CURVE_25519, self.wants), None)
            case KexSet(echo=False, keys=keys):
                if self.fail_with is not None:
                    world.node_sends(KexFail(self.fail_with), None)
                    return
                self.granted = keys
                self.order = [k for k in kex_order() if k in keys]
                shown = (
                    bytes(2) + NODE_PUBLIC[2:]
                    if keys & {SecurityClass.S2_ACCESS_CONTROL, SecurityClass.S2_AUTHENTICATED}
                    else NODE_PUBLIC
                )
                world.node_sends(PublicKeyReport(False, shown), None)
            case PublicKeyReport(including_node=True, public_key=hub_public):
                shared = x25519_shared(NODE_PRIVATE, hub_public)
                self.session.set_temp_key(HUB, derive_temp_keys(compute_prk(shared, hub_public, NODE_PUBLIC)))
                world.node_sends(KexSet(True, False, KEX_SCHEME_1, CURVE_25519, self.granted), "temp")
            case KexReport(echo=True):
                world.node_sends(NetworkKeyGet(self.order[0]), "temp")
            case NetworkKeyReport(key=key, network_key=value):
                self.received[key] = value
                world.node_key(key, value)
                world.node_sends(NetworkKeyVerify(), key)
            case TransferEnd(key_verified=True):
                rest = [k for k in self.order if k not in self.received]
                if rest:
                    world.node_sends(NetworkKeyGet(rest[0]), "temp")
                else:
                    world.node_sends(TransferEnd(False, True), "temp")


def kex_order() -> list[SecurityClass]:
    return [
        SecurityClass.S2_UNAUTHENTICATED,
        SecurityClass.S2_AUTHENTICATED,
        SecurityClass.S2_ACCESS_CONTROL,
        SecurityClass.S0_LEGACY,
    ]


class World:
    """Delivers frames between the hub (kex machine + S2Session) and the joining node."""

    def __init__(self, node: JoiningNode, allowed: frozenset[SecurityClass] = ALL) -> None:
        self.node = node
        self.hub = S2Session(KEYS, home_id=HOME, own_node_id=HUB)
        self.inbox: deque[tuple[S2Frame, kex.Via]] = deque()
        self.air: deque[Callable[[], None]] = deque()
        self.asked: list[str] = []
        self.timers: list[float] = []
        self.outcome: kex.Finished | kex.Failed | None = None
        self.pin: int | None = RIGHT_PIN
        self.node_keys: dict[SecurityClass, bytes] = {}
        private, public = x25519_keypair(bytes(range(40, 72)))
        self.state, actions = kex.start(allowed, private, public)
        self.perform(actions)

    # node -> hub: queued, sealed and opened when delivered (as over the air, after the hub's current step)
    def node_sends(self, frame: S2Frame, via: str | SecurityClass | None) -> None:
        self.air.append(lambda: self._deliver_to_hub(frame, via))

    def _deliver_to_hub(self, frame: S2Frame, via: str | SecurityClass | None) -> None:
        if via is None:
            self.inbox.append((decode_s2(frame.encode()), kex.PLAIN))
            return
        key = None if via == "temp" else via
        assert not isinstance(key, str)
        sess = self.node.session
        if not sess.can_seal(HUB, key):
            sess.on_nonce_report(HUB, decode_s2(self.hub.nonce_report(NODE)))  # type: ignore[arg-type]
        sealed = sess.seal(HUB, frame.encode(), key=key)
        try:
            opened = self.hub.open(NODE, sealed)
        except DecryptFailed:
            self.feed(kex.Undecryptable())
            return
        self.inbox.append((decode_s2(opened.payload), opened.key))

    def node_key(self, key: SecurityClass, value: bytes) -> None:
        self.node_keys[key] = value
        granted = dict(self.node_keys)
        old = self.node.session._peers[HUB]
        self.node.session = S2Session({k: v for k, v in granted.items()}, home_id=HOME, own_node_id=NODE)
        self.node.session.set_granted(HUB, granted)
        self.node.session.set_temp_key(HUB, old.temp)  # carry the temporary key over to the re-keyed session
        # A real node keeps counting its sequence numbers across a key change; a fresh random start
        # could repeat the last one the hub saw (1 in 256), which the hub rightly drops as a duplicate.
        self.node.session._peers[HUB].own_seq = old.own_seq

    # hub -> node
    def hub_sends(self, frame: S2Frame, via: kex.Via) -> None:
        self.air.append(lambda: self._deliver_to_node(frame, via))

    def _deliver_to_node(self, frame: S2Frame, via: kex.Via) -> None:
        if via is kex.PLAIN:
            self.node.on(decode_s2(frame.encode()), self)
            return
        assert not isinstance(via, kex.Plain)
        if not self.hub.can_seal(NODE, via):
            self.hub.on_nonce_report(NODE, decode_s2(self.node.session.nonce_report(HUB)))  # type: ignore[arg-type]
        opened = self.node.session.open(HUB, self.hub.seal(NODE, frame.encode(), key=via))
        self.node.on(decode_s2(opened.payload), self)

    def perform(self, actions: list[kex.Action]) -> None:
        for action in actions:
            match action:
                case kex.Send(frame=frame, via=via):
                    self.hub_sends(frame, via)
                case kex.SendNetworkKey(key=key):
                    self.hub_sends(NetworkKeyReport(key, KEYS[key]), None)
                case kex.ArmTimer(seconds=s):
                    self.timers.append(s)
                case kex.AskPin(dsk=dsk):
                    self.asked.append(dsk)
                case kex.InstallTempKey(keys=keys):
                    self.hub.set_temp_key(NODE, keys)
                case kex.SetGranted(keys=keys):
                    self.hub.set_granted(NODE, keys)
                case kex.ResetSpan():
                    self.hub.reset(NODE)
                case kex.Finished() | kex.Failed():
                    self.outcome = action
                    self.hub.set_temp_key(NODE, None)
                    if isinstance(action, kex.Finished):
                        self.hub.set_granted(NODE, action.granted)

    def feed(self, event: kex.Event) -> None:
        self.state, actions = kex.step(self.state, event)
        self.perform(actions)

    def run(self) -> None:
        while self.inbox or self.air or (self.state.phase is kex.Phase.AWAIT_PIN and self.pin is not None):
            if self.state.phase is kex.Phase.AWAIT_PIN and self.pin is not None:
                pin, self.pin = self.pin, None
                self.feed(kex.PinEntered(pin))
            elif self.inbox:
                frame, via = self.inbox.popleft()
                self.feed(kex.Received(frame, via))
            else:
                self.air.popleft()()


@pytest.mark.parametrize(
    "wants",
    [
        {SecurityClass.S2_UNAUTHENTICATED},
        {SecurityClass.S2_UNAUTHENTICATED, SecurityClass.S2_AUTHENTICATED},
        {SecurityClass.S2_ACCESS_CONTROL, SecurityClass.S0_LEGACY},
        set(KEYS),
    ],
    ids=["unauth", "auth", "access-control+s0", "all"],
)
def test_bootstrapping_grants_what_the_node_asks_for(wants: set[SecurityClass]) -> None:
    world = World(JoiningNode(frozenset(wants)))
    world.run()
    assert isinstance(world.outcome, kex.Finished), world.outcome
    assert world.outcome.granted == frozenset(wants)
    assert world.node_keys == {k: KEYS[k] for k in wants}
    needs_pin = bool(wants & {SecurityClass.S2_ACCESS_CONTROL, SecurityClass.S2_AUTHENTICATED})
    assert world.asked == ([dsk_hidden(NODE_PUBLIC[:16])] if needs_pin else [])
    assert world.outcome.dsk == NODE_PUBLIC[:16]
    # Afterwards the hub talks to the node at its highest class.
    top = world.hub.default_key(NODE)
    assert top == next(
        k
        for k in (
            SecurityClass.S2_ACCESS_CONTROL,
            SecurityClass.S2_AUTHENTICATED,
            SecurityClass.S2_UNAUTHENTICATED,
        )
        if k in wants
    )


def test_only_classes_the_user_allows_are_granted() -> None:
    world = World(JoiningNode(frozenset(KEYS)), allowed=frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    world.run()
    assert isinstance(world.outcome, kex.Finished)
    assert world.outcome.granted == {SecurityClass.S2_UNAUTHENTICATED}
    assert world.asked == []


def test_nothing_grantable_is_a_kex_fail_key() -> None:
    world = World(
        JoiningNode(frozenset({SecurityClass.S2_ACCESS_CONTROL})),
        allowed=frozenset({SecurityClass.S0_LEGACY}),
    )
    world.run()
    assert isinstance(world.outcome, kex.Failed)
    assert world.outcome.fail_type is KexFailType.KEX_KEY
    assert "S2_AccessControl" in world.outcome.reason


def test_a_wrong_pin_fails_with_kex_fail_decrypt() -> None:
    world = World(JoiningNode(frozenset({SecurityClass.S2_AUTHENTICATED})))
    world.pin = (RIGHT_PIN + 1) % 65536
    world.run()
    assert isinstance(world.outcome, kex.Failed)
    assert world.outcome.fail_type is KexFailType.DECRYPT
    assert world.state.phase is kex.Phase.FAILED


def test_no_pin_in_time_cancels() -> None:
    world = World(JoiningNode(frozenset({SecurityClass.S2_ACCESS_CONTROL})))
    world.pin = None
    world.run()
    assert world.state.phase is kex.Phase.AWAIT_PIN
    assert world.timers[-1] == kex.TAI2 == 240.0
    world.feed(kex.TimedOut())
    assert isinstance(world.outcome, kex.Failed)
    assert world.outcome.fail_type is KexFailType.CANCEL
    assert "await_pin" in world.outcome.reason


def test_the_node_cancelling_is_reported_with_its_reason() -> None:
    node = JoiningNode(frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    node.fail_with = KexFailType.KEX_CURVES
    world = World(node)
    world.run()
    assert isinstance(world.outcome, kex.Failed)
    assert "KEX_CURVES" in world.outcome.reason


def test_csa_requests_and_unknown_schemes_are_refused() -> None:
    private, public = x25519_keypair(bytes(range(32)))
    state, _ = kex.start(ALL, private, public)
    csa = KexReport(False, True, KEX_SCHEME_1, CURVE_25519, frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    _, actions = kex.step(state, kex.Received(csa, kex.PLAIN))
    assert kex.Send(KexFail(KexFailType.CANCEL), kex.PLAIN) in actions
    scheme = KexReport(False, False, 0x04, CURVE_25519, frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    _, actions = kex.step(state, kex.Received(scheme, kex.PLAIN))
    assert kex.Send(KexFail(KexFailType.KEX_SCHEME), kex.PLAIN) in actions


def test_an_echo_that_differs_from_the_grant_fails_auth() -> None:
    private, public = x25519_keypair(bytes(range(32)))
    state, _ = kex.start(ALL, private, public)
    report = KexReport(False, False, KEX_SCHEME_1, CURVE_25519, frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    state, _ = kex.step(state, kex.Received(report, kex.PLAIN))
    state, _ = kex.step(state, kex.Received(PublicKeyReport(False, NODE_PUBLIC), kex.PLAIN))
    assert state.phase is kex.Phase.AWAIT_KEX_SET_ECHO
    wider = KexSet(True, False, KEX_SCHEME_1, CURVE_25519, ALL)
    state2, actions = kex.step(state, kex.Received(wider, None))
    assert state2.phase is kex.Phase.FAILED and kex.Send(KexFail(KexFailType.AUTH), kex.PLAIN) in actions
    plain = KexSet(True, False, KEX_SCHEME_1, CURVE_25519, frozenset({SecurityClass.S2_UNAUTHENTICATED}))
    state3, _ = kex.step(state, kex.Received(plain, kex.PLAIN))
    assert state3.phase is kex.Phase.FAILED


def test_the_private_key_never_shows_in_repr() -> None:
    private, public = x25519_keypair(bytes(range(32)))
    state, _ = kex.start(ALL, private, public)
    assert private.hex() not in repr(state) and repr(private) not in repr(state)
