"""Security 2 command class (0x9F) commands as data (SDS13783 section 3.6.5 / SDS13781 "Security 2").

Rules of this file: no crypto, no state. Each command is a frozen dataclass; `encode()` gives the
whole CC frame (0x9F, command, fields) and `decode_s2()` reads one, raising only `MalformedFrame`.
Bytes after the fields a command defines are ignored (forward compatibility), reserved bits are
kept where the KEX checks need them. Message Encapsulation (0x03) lives in `s2_encap`, which does
the cryptography; `decode_s2()` returns it raw as `EncapsulatedFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from .classes import SecurityClass, keys_to_mask, mask_to_keys, one_key
from .errors import MalformedFrame

CC_SECURITY_2 = 0x9F


class S2Command(IntEnum):
    """Security 2 command ids."""

    NONCE_GET = 0x01
    NONCE_REPORT = 0x02
    MESSAGE_ENCAPSULATION = 0x03
    KEX_GET = 0x04
    KEX_REPORT = 0x05
    KEX_SET = 0x06
    KEX_FAIL = 0x07
    PUBLIC_KEY_REPORT = 0x08
    NETWORK_KEY_GET = 0x09
    NETWORK_KEY_REPORT = 0x0A
    NETWORK_KEY_VERIFY = 0x0B
    TRANSFER_END = 0x0C
    COMMANDS_SUPPORTED_GET = 0x0D
    COMMANDS_SUPPORTED_REPORT = 0x0E


class KexFailType(IntEnum):
    """KEX Fail reasons (SDS13783 table "KEX Fail type")."""

    KEX_KEY = 0x01  # no requested key can be granted
    KEX_SCHEME = 0x02  # no supported key exchange scheme
    KEX_CURVES = 0x03  # no supported ECDH profile
    DECRYPT = 0x05  # a frame of the exchange could not be decrypted (wrong PIN)
    CANCEL = 0x06  # bootstrapping cancelled (user, timeout)
    AUTH = 0x07  # the echo did not match what was sent
    GET = 0x08  # the node asked for a key it was not granted
    VERIFY = 0x09  # key verification failed
    REPORT = 0x0A  # a key report with a different key than requested


KEX_SCHEME_1 = 0x02  # bit 1 of the schemes mask (bit 0 is reserved)
CURVE_25519 = 0x01  # bit 0 of the ECDH profiles mask
PUBLIC_KEY_LEN = 32
NETWORK_KEY_LEN = 16
EI_LEN = 16


class S2Frame:
    """One Security 2 command; `encode()` gives the whole CC frame."""

    __slots__ = ()
    command: ClassVar[S2Command]

    def body(self) -> bytes:
        """The bytes after the command id."""
        return b""

    def encode(self) -> bytes:
        """CC id, command id and fields."""
        return bytes((CC_SECURITY_2, self.command)) + self.body()


@dataclass(frozen=True, slots=True)
class NonceGet(S2Frame):
    """Ask the peer for a receiver entropy input."""

    command: ClassVar[S2Command] = S2Command.NONCE_GET
    seq: int

    def body(self) -> bytes:
        return bytes((self.seq,))


@dataclass(frozen=True, slots=True)
class NonceReport(S2Frame):
    """A receiver entropy input (SOS: singlecast out of sync) and/or an MPAN resync request (MOS)."""

    command: ClassVar[S2Command] = S2Command.NONCE_REPORT
    seq: int
    sos: bool
    mos: bool = False
    receiver_ei: bytes = b""

    def body(self) -> bytes:
        flags = (0x01 if self.sos else 0) | (0x02 if self.mos else 0)
        return bytes((self.seq, flags)) + (self.receiver_ei if self.sos else b"")


@dataclass(frozen=True, slots=True)
class KexGet(S2Frame):
    """Ask the joining node which schemes, curves and keys it supports and wants."""

    command: ClassVar[S2Command] = S2Command.KEX_GET


@dataclass(frozen=True, slots=True)
class KexReport(S2Frame):
    """The joining node's parameters (echo: our copy sent back under the temporary key)."""

    command: ClassVar[S2Command] = S2Command.KEX_REPORT
    echo: bool
    request_csa: bool
    schemes: int
    profiles: int
    keys: frozenset[SecurityClass]
    reserved: int = 0

    def body(self) -> bytes:
        flags = (0x01 if self.echo else 0) | (0x02 if self.request_csa else 0) | (self.reserved & 0xFC)
        return bytes((flags, self.schemes, self.profiles, keys_to_mask(self.keys)))


@dataclass(frozen=True, slots=True)
class KexSet(S2Frame):
    """The keys granted (echo: the joining node's copy sent back under the temporary key)."""

    command: ClassVar[S2Command] = S2Command.KEX_SET
    echo: bool
    permit_csa: bool
    schemes: int
    profiles: int
    keys: frozenset[SecurityClass]
    reserved: int = 0

    def body(self) -> bytes:
        flags = (0x01 if self.echo else 0) | (0x02 if self.permit_csa else 0) | (self.reserved & 0xFC)
        return bytes((flags, self.schemes, self.profiles, keys_to_mask(self.keys)))


@dataclass(frozen=True, slots=True)
class KexFail(S2Frame):
    """Either side abandons the key exchange."""

    command: ClassVar[S2Command] = S2Command.KEX_FAIL
    fail_type: int

    def body(self) -> bytes:
        return bytes((self.fail_type,))


@dataclass(frozen=True, slots=True)
class PublicKeyReport(S2Frame):
    """An ECDH public key; a joining node asking for an authenticated class zeroes bytes 0-1 (the PIN)."""

    command: ClassVar[S2Command] = S2Command.PUBLIC_KEY_REPORT
    including_node: bool
    public_key: bytes

    def body(self) -> bytes:
        return bytes((0x01 if self.including_node else 0,)) + self.public_key


@dataclass(frozen=True, slots=True)
class NetworkKeyGet(S2Frame):
    """The joining node asks for the key of one granted class."""

    command: ClassVar[S2Command] = S2Command.NETWORK_KEY_GET
    key: SecurityClass

    def body(self) -> bytes:
        return bytes((keys_to_mask((self.key,)),))


@dataclass(frozen=True, slots=True)
class NetworkKeyReport(S2Frame):
    """One permanent network key, sent under the temporary key."""

    command: ClassVar[S2Command] = S2Command.NETWORK_KEY_REPORT
    key: SecurityClass
    network_key: bytes

    def body(self) -> bytes:
        return bytes((keys_to_mask((self.key,)),)) + self.network_key

    def __repr__(self) -> str:  # never print a network key
        return f"NetworkKeyReport(key={self.key.name}, network_key=<secret>)"


@dataclass(frozen=True, slots=True)
class NetworkKeyVerify(S2Frame):
    """The joining node proves it holds the key just sent (encrypted under that key)."""

    command: ClassVar[S2Command] = S2Command.NETWORK_KEY_VERIFY


@dataclass(frozen=True, slots=True)
class TransferEnd(S2Frame):
    """Key verified (from us) or all keys requested (from the joining node)."""

    command: ClassVar[S2Command] = S2Command.TRANSFER_END
    key_verified: bool
    key_request_complete: bool

    def body(self) -> bytes:
        return bytes(((0x02 if self.key_verified else 0) | (0x01 if self.key_request_complete else 0),))


@dataclass(frozen=True, slots=True)
class CommandsSupportedGet(S2Frame):
    """Which command classes the node supports at the security class of this frame."""

    command: ClassVar[S2Command] = S2Command.COMMANDS_SUPPORTED_GET


@dataclass(frozen=True, slots=True)
class CommandsSupportedReport(S2Frame):
    """The command classes (one byte each; extended ids kept as their raw bytes) supported securely."""

    command: ClassVar[S2Command] = S2Command.COMMANDS_SUPPORTED_REPORT
    ccs: bytes

    def body(self) -> bytes:
        return self.ccs


@dataclass(frozen=True, slots=True)
class EncapsulatedFrame(S2Frame):
    """A Message Encapsulation as received, not yet decrypted (see `s2_encap.open_frame`)."""

    command: ClassVar[S2Command] = S2Command.MESSAGE_ENCAPSULATION
    raw: bytes  # everything after the command id

    def body(self) -> bytes:
        return self.raw


def _need(body: bytes, n: int, what: str) -> None:
    if len(body) < n:
        raise MalformedFrame(f"Security 2 {what} needs {n} bytes, got {len(body)}")


def decode_s2(frame: bytes) -> S2Frame:
    """One Security 2 command from its CC bytes; MalformedFrame for anything else."""
    if len(frame) < 2 or frame[0] != CC_SECURITY_2:
        raise MalformedFrame("not a Security 2 frame")
    try:
        command = S2Command(frame[1])
    except ValueError:
        raise MalformedFrame(f"unknown Security 2 command 0x{frame[1]:02x}") from None
    body = frame[2:]
    match command:
        case S2Command.NONCE_GET:
            _need(body, 1, "Nonce Get")
            return NonceGet(body[0])
        case S2Command.NONCE_REPORT:
            _need(body, 2, "Nonce Report")
            sos = bool(body[1] & 0x01)
            if sos:
                _need(body, 2 + EI_LEN, "Nonce Report with SOS")
            return NonceReport(body[0], sos, bool(body[1] & 0x02), body[2 : 2 + EI_LEN] if sos else b"")
        case S2Command.MESSAGE_ENCAPSULATION:
            _need(body, 2, "Message Encapsulation")
            return EncapsulatedFrame(bytes(body))
        case S2Command.KEX_GET:
            return KexGet()
        case S2Command.KEX_REPORT | S2Command.KEX_SET:
            _need(body, 4, command.name.replace("_", " ").title())
            cls = KexReport if command is S2Command.KEX_REPORT else KexSet
            return cls(
                bool(body[0] & 0x01),
                bool(body[0] & 0x02),
                body[1],
                body[2],
                mask_to_keys(body[3]),
                body[0] & 0xFC,
            )
        case S2Command.KEX_FAIL:
            _need(body, 1, "KEX Fail")
            return KexFail(body[0])
        case S2Command.PUBLIC_KEY_REPORT:
            _need(body, 1 + PUBLIC_KEY_LEN, "Public Key Report")
            return PublicKeyReport(bool(body[0] & 0x01), bytes(body[1 : 1 + PUBLIC_KEY_LEN]))
        case S2Command.NETWORK_KEY_GET:
            _need(body, 1, "Network Key Get")
            return NetworkKeyGet(one_key(body[0]))
        case S2Command.NETWORK_KEY_REPORT:
            _need(body, 1 + NETWORK_KEY_LEN, "Network Key Report")
            return NetworkKeyReport(one_key(body[0]), bytes(body[1 : 1 + NETWORK_KEY_LEN]))
        case S2Command.NETWORK_KEY_VERIFY:
            return NetworkKeyVerify()
        case S2Command.TRANSFER_END:
            _need(body, 1, "Transfer End")
            return TransferEnd(bool(body[0] & 0x02), bool(body[0] & 0x01))
        case S2Command.COMMANDS_SUPPORTED_GET:
            return CommandsSupportedGet()
        case S2Command.COMMANDS_SUPPORTED_REPORT:
            return CommandsSupportedReport(bytes(body))
