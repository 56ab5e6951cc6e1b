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


@runtime_checkable
class ProvisioningTarget(Protocol):
    """A radio with a SmartStart provisioning list (Z-Wave)."""

    def provisioning_entries(self) -> list[dict[str, object]]:
        """The list as JSON objects."""

    def smart_start_listening(self) -> bool:
        """True while the stick listens for provisioned nodes announcing themselves (SmartStart)."""

    async def provision(
        self, *, qr: str | None = None, dsk: str | None = None, name: str = ""
    ) -> dict[str, object]:
        """Add a node by QR code string or DSK; InvalidCommand naming the problem."""

    async def unprovision(self, dsk: str) -> bool:
        """Remove an entry; False if absent."""
