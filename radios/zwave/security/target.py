"""What the LAN API needs of a Z-Wave radio with security, without importing the Z-Wave stack."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

POLICIES = ("auto", "none")


@runtime_checkable
class PinTarget(Protocol):
    """A radio that takes a joining node's DSK PIN and a per-inclusion security policy (Z-Wave)."""

    def enter_pin(self, pin: str) -> None:
        """The DSK PIN (5 digits); InvalidCommand if no node waits for one or it is malformed."""

    def set_security_policy(self, policy: str) -> None:
        """`auto` or `none`; InvalidCommand otherwise."""
