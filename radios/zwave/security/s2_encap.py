"""S2 Message Encapsulation: extensions, the SPAN table and CCM sealing/opening, per peer node.

Rules of this file: sans-I/O and synchronous; entropy comes from an injected callable so tests are
deterministic. One `S2Session` is the controller's S2 state toward every node (SDS13783 3.6.4/3.6.5):

- SPAN (singlecast pre-agreed nonce): a peer is in one of NONE, LOCAL_EI (we sent our receiver EI
  in a Nonce Report and await the sender EI), REMOTE_EI (the peer sent its receiver EI; our next
  frame carries our sender EI in a SPAN extension) or SPAN (a CTR_DRBG seeded from both EIs and
  the personalisation string of the key in use, giving one 13-byte nonce per frame, both ways).
- A frame we cannot authenticate raises `DecryptFailed`: the caller answers with `nonce_report()`
  (SOS), which starts a fresh SPAN: that is the resynchronisation.
- A SPAN is bound to one key (temporary or one class). Sealing at another class first drops the
  SPAN (`NoNonce`), so the caller runs a Nonce Get, as when no SPAN exists.
- Sequence numbers: ours count per peer from a random start; a peer's frame repeating the last
  sequence number it got accepted with is a duplicate (dropped, `DuplicateFrame`).
- Extensions: SPAN is used; MGRP, MOS and MPAN are parsed and ignored (multicast / MPAN is not
  implemented); an unknown critical extension discards the frame, unknown non-critical ones are
  skipped. Lengths are bounded by the frame; nothing here allocates more than the frame's size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from .classes import ORDER, S2_ORDER, SecurityClass
from .drbg import SEED_LEN, CtrDrbg
from .errors import DecryptFailed, DuplicateFrame, MalformedFrame, NoNonce, NotGranted
from .kdf import DerivedKeys, compute_nonce_prk, derive_mei, derive_network_keys
from .primitives import CCM_NONCE, CCM_TAG, ccm_decrypt, ccm_encrypt
from .s2_cc import CC_SECURITY_2, EI_LEN, NonceGet, NonceReport, S2Command

_log = logging.getLogger(__name__)

# How many successive SPAN nonces a receiver tries before giving up (SDS13783 allows "one or more";
# zwave-js uses 5). Bounds the work an undecryptable frame costs us.
MAX_DECRYPT_ATTEMPTS = 5


class ExtensionType(IntEnum):
    """S2 header extension types."""

    SPAN = 0x01
    MPAN = 0x02
    MGRP = 0x03
    MOS = 0x04


_EXPECTED_LEN = {
    ExtensionType.SPAN: 2 + EI_LEN,
    ExtensionType.MPAN: 19,
    ExtensionType.MGRP: 3,
    ExtensionType.MOS: 2,
}
_MORE = 0x80
_CRITICAL = 0x40


@dataclass(frozen=True, slots=True)
class Extension:
    """One S2 header extension (type, critical flag, data after the 2-byte header)."""

    type: int
    critical: bool
    data: bytes

    def encode(self, more: bool) -> bytes:
        """Length, flags|type, data."""
        flags = (_MORE if more else 0) | (_CRITICAL if self.critical else 0) | (self.type & 0x3F)
        return bytes((2 + len(self.data), flags)) + self.data


def parse_extensions(buf: bytes, *, encrypted: bool, reserve: int) -> tuple[list[Extension], int]:
    """The extensions at the start of `buf` and their size; `reserve` bytes must follow."""
    out: list[Extension] = []
    offset = 0
    while True:
        if len(buf) - offset < 2:
            raise MalformedFrame("S2 extension header truncated")
        length, flags = buf[offset], buf[offset + 1]
        kind = flags & 0x3F
        if length < 2 or length > len(buf) - offset - reserve:
            raise MalformedFrame(f"S2 extension length {length} does not fit the frame")
        data = bytes(buf[offset + 2 : offset + length])
        offset += length
        known = kind in _EXPECTED_LEN
        if known and length != _EXPECTED_LEN[ExtensionType(kind)]:
            pass  # a known extension with the wrong length is ignored, as a receiver must
        elif not known:
            if flags & _CRITICAL:
                raise MalformedFrame(f"unknown critical S2 extension type {kind}")
        elif (kind == ExtensionType.MPAN) == encrypted:
            out.append(Extension(kind, bool(flags & _CRITICAL), data))
        # else: an extension in the wrong (encrypted/plain) part is ignored
        if not flags & _MORE:
            return out, offset


def auth_data(sender: int, dest: int, home_id: int, length: int, header: bytes) -> bytes:
    """The CCM additional data: node ids (2 bytes each for Long Range), home id, length, header."""
    size = 2 if sender > 0xFF or dest > 0xFF else 1
    return (
        sender.to_bytes(size, "big")
        + dest.to_bytes(size, "big")
        + home_id.to_bytes(4, "big")
        + length.to_bytes(2, "big")
        + header
    )


class Auto(Enum):
    """Marker for "the key this node's frames normally use" (see `S2Session.default_key`)."""

    KEY = 0


AUTO = Auto.KEY


class SpanState(IntEnum):
    """Where the singlecast nonce agreement with one peer stands."""

    NONE = 0
    REMOTE_EI = 1
    LOCAL_EI = 2
    SPAN = 3


@dataclass(slots=True)
class _Peer:
    state: SpanState = SpanState.NONE
    ei: bytes = b""  # LOCAL_EI: ours; REMOTE_EI: theirs
    drbg: CtrDrbg | None = None
    key: SecurityClass | None = None  # the SPAN's key; None = the temporary key
    last_nonce: bytes | None = None  # our last sealing nonce, for a frame that crossed ours
    own_seq: int | None = None
    peer_seq: int | None = None
    granted: frozenset[SecurityClass] = field(default_factory=frozenset)
    temp: DerivedKeys | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    """A decrypted frame: the inner CC bytes and the key that opened it (None = temporary key)."""

    payload: bytes
    key: SecurityClass | None
    seq: int


class S2Session:
    """The controller's S2 state toward all nodes: keys, SPAN table, sequence numbers."""

    def __init__(
        self,
        network_keys: dict[SecurityClass, bytes],
        *,
        home_id: int = 0,
        own_node_id: int = 1,
        entropy: Callable[[int], bytes] = os.urandom,
        ei_source: Callable[[int], bytes] | None = None,
    ) -> None:
        self.home_id = home_id
        self.own_node_id = own_node_id
        self._entropy = entropy
        # S0_Legacy too: a node granted S0 through S2 bootstrapping verifies that key in an S2 frame.
        self._keys = {cls: derive_network_keys(pnk) for cls, pnk in network_keys.items()}
        # Entropy inputs come from a CTR_DRBG seeded once (SDS13783 asks for a DRBG there); tests pin them.
        self._ei = ei_source or CtrDrbg(entropy(SEED_LEN)).generate
        self._peers: dict[int, _Peer] = {}

    def __repr__(self) -> str:
        return f"S2Session(home_id=0x{self.home_id:08x}, peers={len(self._peers)})"

    def _peer(self, node: int) -> _Peer:
        peer = self._peers.get(node)
        if peer is None:
            peer = self._peers[node] = _Peer()
        return peer

    # --- keys and grants ---------------------------------------------------------------------

    def has_key(self, cls: SecurityClass) -> bool:
        """True if we hold the network key of this S2 class."""
        return cls in self._keys

    def set_granted(self, node: int, classes: Iterable[SecurityClass]) -> None:
        """The classes `node` holds keys for (persisted by the caller)."""
        self._peer(node).granted = frozenset(classes)

    def granted(self, node: int) -> frozenset[SecurityClass]:
        """The classes `node` holds."""
        peer = self._peers.get(node)
        return peer.granted if peer else frozenset()

    def set_temp_key(self, node: int, keys: DerivedKeys | None) -> None:
        """Install (or drop, with None) the temporary key of a node being bootstrapped; resets its SPAN.

        A receiver EI we offered stays valid: the node's next frame may set up its SPAN under the new key.
        """
        peer = self._peer(node)
        peer.temp = keys
        if peer.state is not SpanState.LOCAL_EI:
            self.reset(node)

    def bootstrapping(self, node: int) -> bool:
        """True while a temporary key is installed for `node`."""
        peer = self._peers.get(node)
        return peer is not None and peer.temp is not None

    def reset(self, node: int) -> None:
        """Forget the SPAN and the peer's last sequence number (ours keeps counting)."""
        peer = self._peer(node)
        peer.state, peer.ei, peer.drbg, peer.key, peer.last_nonce = SpanState.NONE, b"", None, None, None
        peer.peer_seq = None

    def forget(self, node: int) -> None:
        """Drop everything about `node` (excluded)."""
        self._peers.pop(node, None)

    def span_state(self, node: int) -> SpanState:
        """The SPAN state with `node`."""
        peer = self._peers.get(node)
        return peer.state if peer else SpanState.NONE

    # --- nonce exchange ----------------------------------------------------------------------

    def _next_seq(self, peer: _Peer) -> int:
        peer.own_seq = self._entropy(1)[0] if peer.own_seq is None else (peer.own_seq + 1) & 0xFF
        return peer.own_seq

    def nonce_get(self, node: int) -> bytes:
        """A Nonce Get frame for `node` (send it, then feed its Nonce Report to `on_nonce_report`)."""
        return NonceGet(self._next_seq(self._peer(node))).encode()

    def nonce_report(self, node: int) -> bytes:
        """A Nonce Report (SOS) with a fresh receiver EI: answers a Nonce Get or an unopenable frame."""
        peer = self._peer(node)
        ei = self._ei(EI_LEN)
        peer.state, peer.ei, peer.drbg, peer.last_nonce = SpanState.LOCAL_EI, ei, None, None
        return NonceReport(self._next_seq(peer), sos=True, receiver_ei=ei).encode()

    def on_nonce_report(self, node: int, report: NonceReport) -> None:
        """Take the peer's receiver EI: our next frame to it sets up a new SPAN."""
        if not report.sos:
            return  # MOS only: about multicast, which we do not run
        peer = self._peer(node)
        peer.state, peer.ei, peer.drbg, peer.last_nonce = SpanState.REMOTE_EI, report.receiver_ei, None, None

    # --- sealing and opening -----------------------------------------------------------------

    def _keys_for(self, peer: _Peer, key: SecurityClass | None, node: int) -> DerivedKeys:
        if key is None:
            if peer.temp is None:
                raise NotGranted("no temporary key for this node", node_id=node)
            return peer.temp
        found = self._keys.get(key)
        if found is None:
            raise NotGranted(f"no network key for {key.wire_name}", node_id=node)
        return found

    def _start_span(
        self, peer: _Peer, key: SecurityClass | None, node: int, sender_ei: bytes, receiver_ei: bytes
    ) -> None:
        keys = self._keys_for(peer, key, node)
        mei = derive_mei(compute_nonce_prk(sender_ei, receiver_ei))
        peer.state, peer.ei, peer.key, peer.last_nonce = SpanState.SPAN, b"", key, None
        peer.drbg = CtrDrbg(mei, keys.personalization)

    def default_key(self, node: int) -> SecurityClass | None:
        """The key frames to `node` use: the temporary key while bootstrapping, else its highest S2 class."""
        peer = self._peer(node)
        if peer.temp is not None:
            return None
        best = next((c for c in S2_ORDER if c in peer.granted), None)
        if best is None:
            raise NotGranted("the node holds no S2 key", node_id=node)
        return best

    def can_seal(self, node: int, key: SecurityClass | None) -> bool:
        """True if a frame at `key` can go now; False means: run a Nonce Get first."""
        peer = self._peers.get(node)
        if peer is None:
            return False
        return peer.state is SpanState.REMOTE_EI or (peer.state is SpanState.SPAN and peer.key == key)

    def seal(self, node: int, payload: bytes, *, key: SecurityClass | Auto | None = AUTO) -> bytes:
        """The Message Encapsulation carrying `payload` (key None: temporary); NoNonce: Nonce Get first."""
        peer = self._peer(node)
        use = self.default_key(node) if key is AUTO else key
        keys = self._keys_for(peer, use, node)
        extensions: list[Extension] = []
        if peer.state is SpanState.SPAN and peer.key != use:
            self.reset(node)
        if peer.state is SpanState.REMOTE_EI:
            sender_ei = self._ei(EI_LEN)
            self._start_span(peer, use, node, sender_ei, peer.ei)
            extensions.append(Extension(ExtensionType.SPAN, True, sender_ei))
        if peer.state is not SpanState.SPAN or peer.drbg is None:
            raise NoNonce("no SPAN with the node: send a Nonce Get first", node_id=node)
        seq = self._next_seq(peer)
        header = bytes((seq, 0x01 if extensions else 0x00)) + b"".join(
            ext.encode(i < len(extensions) - 1) for i, ext in enumerate(extensions)
        )
        nonce = peer.drbg.generate(16)[:CCM_NONCE]
        peer.last_nonce = nonce
        length = 2 + len(header) + len(payload) + CCM_TAG
        aad = auth_data(self.own_node_id, node, self.home_id, length, header)
        sealed = ccm_encrypt(keys.ccm, nonce, payload, aad)
        return bytes((CC_SECURITY_2, S2Command.MESSAGE_ENCAPSULATION)) + header + sealed

    def _candidates(self, peer: _Peer) -> list[SecurityClass | None]:
        out: list[SecurityClass | None] = []
        if peer.temp is not None:
            out.append(None)
        out.extend(c for c in ORDER if c in peer.granted and c in self._keys)
        return out

    def open(self, node: int, frame: bytes) -> Opened:
        """Open an S2 frame from `node`; MalformedFrame/DuplicateFrame/NoNonce/DecryptFailed."""
        if len(frame) < 4 or frame[0] != CC_SECURITY_2 or frame[1] != S2Command.MESSAGE_ENCAPSULATION:
            raise MalformedFrame("not an S2 Message Encapsulation", node_id=node)
        body = frame[2:]
        seq, flags = body[0], body[1]
        offset = 2
        plain_ext: list[Extension] = []
        if flags & 0x01:
            plain_ext, used = parse_extensions(body[2:], encrypted=False, reserve=CCM_TAG)
            offset += used
        if len(body) - offset < CCM_TAG:
            raise MalformedFrame("S2 frame shorter than its tag", node_id=node)
        peer = self._peer(node)
        if peer.peer_seq == seq:
            raise DuplicateFrame(f"duplicate S2 sequence number {seq}", node_id=node)
        header, sealed = bytes(body[:offset]), bytes(body[offset:])
        aad = auth_data(node, self.own_node_id, self.home_id, len(frame), header)
        span = next((e for e in plain_ext if e.type == ExtensionType.SPAN), None)
        opened = self._decrypt(node, peer, span.data if span else None, sealed, aad)
        if opened is None:
            raise DecryptFailed("S2 frame did not authenticate", node_id=node)
        plaintext, key = opened
        peer.peer_seq = seq
        inner = 0
        if flags & 0x02:
            _enc_ext, inner = parse_extensions(plaintext, encrypted=True, reserve=0)
        return Opened(plaintext[inner:], key, seq)

    def _decrypt(
        self, node: int, peer: _Peer, sender_ei: bytes | None, sealed: bytes, aad: bytes
    ) -> tuple[bytes, SecurityClass | None] | None:
        if sender_ei is not None:
            if peer.state is not SpanState.LOCAL_EI:
                return None  # a new SPAN we did not offer an EI for: resync
            receiver_ei = peer.ei
            for key in self._candidates(peer):
                self._start_span(peer, key, node, sender_ei, receiver_ei)
                assert peer.drbg is not None
                nonce = peer.drbg.generate(16)[:CCM_NONCE]
                plain = ccm_decrypt(self._keys_for(peer, key, node).ccm, nonce, sealed, aad)
                if plain is not None:
                    return plain, key
            peer.state, peer.ei, peer.drbg = SpanState.LOCAL_EI, receiver_ei, None
            return None
        if peer.state is not SpanState.SPAN or peer.drbg is None:
            raise NoNonce("no SPAN with the node", node_id=node)
        ccm_key = self._keys_for(peer, peer.key, node).ccm
        if peer.last_nonce is not None:
            # Both sides may have used the same nonce for frames that crossed in the air.
            crossed, peer.last_nonce = peer.last_nonce, None
            plain = ccm_decrypt(ccm_key, crossed, sealed, aad)
            if plain is not None:
                return plain, peer.key
        for _ in range(MAX_DECRYPT_ATTEMPTS):
            nonce = peer.drbg.generate(16)[:CCM_NONCE]
            plain = ccm_decrypt(ccm_key, nonce, sealed, aad)
            if plain is not None:
                return plain, peer.key
        _log.debug("node %d: S2 frame did not open with %d nonces", node, MAX_DECRYPT_ATTEMPTS)
        return None
