"""Errors of the Z-Wave security layer (S0 and S2), placed under `ProtocolError`.

SecurityError(ProtocolError)
├── MalformedFrame        the bytes are not a well-formed security command (discard, log once)
├── DuplicateFrame        the node repeated a sequence number we already accepted (discard silently)
├── NoNonce               we hold no nonce/SPAN for this node: send Nonce Get (S2) / Nonce Get (S0) first
├── DecryptFailed         authentication failed: S2 answers with a Nonce Report (SOS) to resynchronise
└── NotGranted            the node has no key for that class, or sent plain what must be encrypted

Only these leave the decoders: the fuzz tests in tests/zwave/security hold them to it.
"""

from __future__ import annotations

from hub_core.errors import ProtocolError


class SecurityError(ProtocolError):
    """A security-layer problem with a frame from or to `node_id`."""

    def __init__(self, message: str, *, node_id: int | None = None) -> None:
        self.node_id = node_id
        super().__init__(message)


class MalformedFrame(SecurityError):
    """The bytes are not a well-formed S0/S2 command."""


class DuplicateFrame(SecurityError):
    """A repeated S2 sequence number from the same node: the frame is dropped."""


class NoNonce(SecurityError):
    """No SPAN (S2) or receiver nonce (S0) is established with the node yet."""


class DecryptFailed(SecurityError):
    """The frame did not authenticate under any key or nonce we could try."""


class NotGranted(SecurityError):
    """The security class is not granted to the node, or a plain frame came where security is required."""
