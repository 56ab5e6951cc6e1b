"""The seam where Security (S0/S2, `radios/zwave/security/`) plugs into the stack.

Rules of this file: every CC payload sent to a node passes through `Encapsulation.encapsulate` right
before its SendData, after Multi Channel and Supervision wrapping (so S2 carries Supervision, as
SDS13783 orders it); every payload received from a node passes through `decapsulate` before it is
parsed. The default is the identity. Inclusion calls `SecurityBootstrap.bootstrap` once AddNode has
completed and before the interview, so the keys are in place before the first Get. Both are given to
`ZWaveRadio(..., encapsulation=..., bootstrap=...)`; an implementation that must send frames of its
own (a Nonce Report, KEX Get) uses `radio.link.transmit_raw(node_id, payload)`, which skips this seam.
"""

from __future__ import annotations

from typing import Protocol


class Encapsulation(Protocol):
    """Wraps outgoing and unwraps incoming CC payloads of one node (Security)."""

    async def encapsulate(self, node_id: int, payload: bytes) -> bytes:
        """The bytes to send to `node_id` for `payload`; may await a nonce exchange."""

    def decapsulate(self, node_id: int, payload: bytes) -> bytes | None:
        """The plain payload received from `node_id`; None if the frame was consumed or refused."""


class SecurityBootstrap(Protocol):
    """Grants keys to a node that just joined, before its interview (S2 bootstrapping, S0 inclusion)."""

    async def bootstrap(self, node_id: int, command_classes: tuple[int, ...]) -> None:
        """Run the key exchange if `command_classes` (the NIF) lists a Security CC; else return."""


class Plain:
    """No security: payloads go out and come in unchanged; bootstrapping does nothing."""

    async def encapsulate(self, node_id: int, payload: bytes) -> bytes:
        """`payload` unchanged."""
        return payload

    def decapsulate(self, node_id: int, payload: bytes) -> bytes | None:
        """`payload` unchanged."""
        return payload

    async def bootstrap(self, node_id: int, command_classes: tuple[int, ...]) -> None:
        """Nothing to exchange."""
