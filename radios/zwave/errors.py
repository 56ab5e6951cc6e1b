"""Z-Wave errors, placed in the HubError tree so callers map them without knowing Z-Wave.

RadioUnavailable
├── SerialClosed          the serial link is down (unplugged, closed, never opened)
├── ControllerReset       the stick restarted while a request was in flight
└── TransactionFailed     the stick did not ACK / respond / call back (after retransmissions)
DeliveryFailed
└── NodeUnreachable       the stick sent, the node did not acknowledge (TxStatus != OK)
"""

from __future__ import annotations

from hub_core.errors import DeliveryFailed, RadioUnavailable


class SerialClosed(RadioUnavailable):
    """The serial link to the controller is down."""

    code = "radio_unavailable"


class ControllerReset(RadioUnavailable):
    """The controller restarted (SerialApiStarted) while a request was in flight."""


class TransactionFailed(RadioUnavailable):
    """The controller did not complete a Serial API transaction; `reason` says which step failed."""

    def __init__(self, message: str, *, function: int, reason: str, device: str | None = None) -> None:
        self.function = function
        self.reason = reason
        super().__init__(message, device=device)


class NodeUnreachable(DeliveryFailed):
    """The controller transmitted, but the node did not acknowledge (`status` is the TxStatus)."""

    def __init__(self, message: str, *, node_id: int, status: int, device: str | None = None) -> None:
        self.node_id = node_id
        self.status = status
        super().__init__(message, device=device)
