"""Security S0 (Security CC 0x98, SDS10865) for older locks: commands as data and the nonce/crypto session.

Rules of this file: sans-I/O; time comes in as `now` (seconds, any monotonic origin) so nonce
expiry is testable; entropy is injected. S0 has one network key for the whole network:
authentication key = AES-ECB(network key, 0x55 * 16), encryption key = AES-ECB(network key, 0xAA * 16).
A Message Encapsulation is: sender nonce (8) | AES-OFB(encryption key, IV = sender nonce | receiver
nonce)(frame control | CC bytes) | receiver nonce id (1) | MAC (8), where the MAC is S0's CBC-MAC over
IV | command | source | destination | length | ciphertext. Each receiver nonce is used once and
expires after `NONCE_LIFETIME`. The network key is handed to a joining node under the all-zero
temporary key (`TEMP_KEY`). Segmented (two-frame) encapsulation is refused: our frames fit one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from .errors import DecryptFailed, MalformedFrame, NoNonce
from .primitives import aes_ecb, aes_ofb, s0_mac, same

CC_SECURITY = 0x98
NONCE_LEN = 8
TEMP_KEY = bytes(16)
# A receiver nonce we issued is good for this long (SDS10865 asks for at least 3 s, at most 20 s).
NONCE_LIFETIME = 10.0
# At most this many unused nonces per node; the oldest goes first (bounds memory against Nonce Get floods).
MAX_NONCES_PER_NODE = 8
_MIN_ENCAP = NONCE_LEN + 1 + 1 + 8  # IV half, frame control, nonce id, MAC


class S0Command(IntEnum):
    """Security CC command ids."""

    COMMANDS_SUPPORTED_GET = 0x02
    COMMANDS_SUPPORTED_REPORT = 0x03
    SCHEME_GET = 0x04
    SCHEME_REPORT = 0x05
    NETWORK_KEY_SET = 0x06
    NETWORK_KEY_VERIFY = 0x07
    SCHEME_INHERIT = 0x08
    NONCE_GET = 0x40
    NONCE_REPORT = 0x80
    MESSAGE_ENCAPSULATION = 0x81
    MESSAGE_ENCAPSULATION_NONCE_GET = 0xC1


def frame(command: S0Command, body: bytes = b"") -> bytes:
    """A Security CC frame."""
    return bytes((CC_SECURITY, command)) + body


def scheme_get() -> bytes:
    """Scheme Get (scheme 0, the only one)."""
    return frame(S0Command.SCHEME_GET, b"\x00")


def network_key_set(key: bytes) -> bytes:
    """Network Key Set: the plaintext that goes encapsulated under `TEMP_KEY`."""
    return frame(S0Command.NETWORK_KEY_SET, key)


def nonce_get() -> bytes:
    """Nonce Get."""
    return frame(S0Command.NONCE_GET)


def s0_keys(network_key: bytes) -> tuple[bytes, bytes]:
    """(authentication key, encryption key) of an S0 network key."""
    return aes_ecb(network_key, b"\x55" * 16), aes_ecb(network_key, b"\xaa" * 16)


def command_of(data: bytes) -> S0Command:
    """The command id of a Security CC frame; MalformedFrame otherwise."""
    if len(data) < 2 or data[0] != CC_SECURITY:
        raise MalformedFrame("not a Security (S0) frame")
    try:
        return S0Command(data[1])
    except ValueError:
        raise MalformedFrame(f"unknown Security command 0x{data[1]:02x}") from None


def parse_nonce_report(data: bytes) -> bytes:
    """The 8-byte nonce of a Nonce Report."""
    if command_of(data) is not S0Command.NONCE_REPORT or len(data) < 2 + NONCE_LEN:
        raise MalformedFrame("not a complete S0 Nonce Report")
    return bytes(data[2 : 2 + NONCE_LEN])


@dataclass(frozen=True, slots=True)
class Opened:
    """A decrypted S0 frame; `wants_nonce`: the node also asked for a nonce (0xC1), answer with one."""

    payload: bytes
    wants_nonce: bool


@dataclass(slots=True)
class _Peer:
    issued: dict[int, tuple[bytes, float]] = field(default_factory=dict)  # nonce id -> (nonce, expiry)
    receiver: tuple[bytes, float] | None = None  # the node's nonce for our next frame


class S0Session:
    """The controller's S0 state: the network key and the nonces in flight, per node."""

    def __init__(
        self, network_key: bytes, *, own_node_id: int = 1, entropy: Callable[[int], bytes] = os.urandom
    ):
        self.own_node_id = own_node_id
        self._keys = s0_keys(network_key)
        self._temp = s0_keys(TEMP_KEY)
        self._entropy = entropy
        self._peers: dict[int, _Peer] = {}

    def __repr__(self) -> str:
        return f"S0Session(peers={len(self._peers)})"

    def _peer(self, node: int) -> _Peer:
        return self._peers.setdefault(node, _Peer())

    def forget(self, node: int) -> None:
        """Drop every nonce of `node`."""
        self._peers.pop(node, None)

    def nonce_report(self, node: int, now: float) -> bytes:
        """A Nonce Report with a fresh nonce for `node` (its id, the first byte, unique among ours)."""
        peer = self._peer(node)
        peer.issued = {k: v for k, v in peer.issued.items() if v[1] > now}
        while True:
            nonce = self._entropy(NONCE_LEN)
            if nonce[0] not in peer.issued:
                break
        if len(peer.issued) >= MAX_NONCES_PER_NODE:
            del peer.issued[min(peer.issued, key=lambda k: peer.issued[k][1])]
        peer.issued[nonce[0]] = (nonce, now + NONCE_LIFETIME)
        return frame(S0Command.NONCE_REPORT, nonce)

    def on_nonce_report(self, node: int, data: bytes, now: float) -> None:
        """Keep the node's nonce for our next frame to it."""
        self._peer(node).receiver = (parse_nonce_report(data), now + NONCE_LIFETIME)

    def can_seal(self, node: int, now: float) -> bool:
        """True if we hold an unexpired nonce from `node`."""
        peer = self._peers.get(node)
        return peer is not None and peer.receiver is not None and peer.receiver[1] > now

    def seal(self, node: int, payload: bytes, now: float, *, temporary: bool = False) -> bytes:
        """Encapsulate `payload` for `node` with its nonce (used up); NoNonce: Nonce Get first."""
        peer = self._peer(node)
        if peer.receiver is None or peer.receiver[1] <= now:
            peer.receiver = None
            raise NoNonce("no S0 nonce from the node: send a Nonce Get first", node_id=node)
        receiver, peer.receiver = peer.receiver[0], None
        auth_key, enc_key = self._temp if temporary else self._keys
        sender = self._entropy(NONCE_LEN)
        ciphertext = aes_ofb(enc_key, sender + receiver, b"\x00" + payload)
        cmd = S0Command.MESSAGE_ENCAPSULATION
        mac = s0_mac(auth_key, _auth_data(sender, receiver, cmd, self.own_node_id, node, ciphertext))
        return frame(cmd, sender + ciphertext + bytes((receiver[0],)) + mac)

    def open(self, node: int, data: bytes, now: float, *, temporary: bool = False) -> Opened:
        """Open an S0 Message Encapsulation from `node`; MalformedFrame, NoNonce or DecryptFailed."""
        cmd = command_of(data)
        if cmd not in (S0Command.MESSAGE_ENCAPSULATION, S0Command.MESSAGE_ENCAPSULATION_NONCE_GET):
            raise MalformedFrame("not an S0 Message Encapsulation", node_id=node)
        body = data[2:]
        if len(body) < _MIN_ENCAP:
            raise MalformedFrame("S0 Message Encapsulation too short", node_id=node)
        sender, ciphertext = bytes(body[:NONCE_LEN]), bytes(body[NONCE_LEN:-9])
        nonce_id, mac = body[-9], bytes(body[-8:])
        peer = self._peer(node)
        issued = peer.issued.pop(nonce_id, None)  # used once, whatever the outcome
        if issued is None or issued[1] <= now:
            raise NoNonce(f"S0 frame uses unknown or expired nonce id 0x{nonce_id:02x}", node_id=node)
        receiver = issued[0]
        auth_key, enc_key = self._temp if temporary else self._keys
        if not same(
            mac, s0_mac(auth_key, _auth_data(sender, receiver, cmd, node, self.own_node_id, ciphertext))
        ):
            raise DecryptFailed("S0 MAC does not match", node_id=node)
        plain = aes_ofb(enc_key, sender + receiver, ciphertext)
        if plain[0] & 0x10:
            raise MalformedFrame("segmented S0 frames are not supported", node_id=node)
        return Opened(plain[1:], cmd is S0Command.MESSAGE_ENCAPSULATION_NONCE_GET)


def _auth_data(sender: bytes, receiver: bytes, cmd: int, src: int, dst: int, ciphertext: bytes) -> bytes:
    return sender + receiver + bytes((cmd, src & 0xFF, dst & 0xFF, len(ciphertext) & 0xFF)) + ciphertext
