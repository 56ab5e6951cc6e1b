"""The errors OTA code raises; every one is a HubError with a sentence naming the problem."""

from __future__ import annotations

from hub_core.errors import HubError


class OtaError(HubError):
    """An update could not be checked, downloaded or installed."""


class UntrustedUpdate(OtaError):
    """TUF refused the repository's metadata or a target (an attack, or a broken repository)."""


class VersionRefused(OtaError):
    """The offered version is at or below the running (or highest installed) one: anti-rollback."""


class BackendError(OtaError):
    """The slot backend (dir or RAUC) failed."""
