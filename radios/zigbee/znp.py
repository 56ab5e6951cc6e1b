"""zigpy-znp's ControllerApplication, plus the one thing it does not do: notice a coordinator reset.

Z-Stack sends SYS_RESET_IND when the coordinator reboots on its own (watchdog, brown-out, a crash).
zigpy-znp waits for that indication only around the resets it asks for itself; one arriving while
the network runs goes unhandled, and the coordinator then runs no network and has forgotten the
host's endpoints, so every device stays silent until the host restarts. This subclass reports such
a reset as a lost connection, which makes the adapter rebuild the application in-process.
"""

from __future__ import annotations

import logging
from typing import Any

import zigpy_znp.commands as znp_commands
from zigpy_znp.zigbee.application import ControllerApplication as _ZnpApplication

log = logging.getLogger(__name__)


class ControllerApplication(_ZnpApplication):  # type: ignore[misc]  # zigpy-znp ships no type hints
    """zigpy-znp's application; an unsolicited reset indication counts as losing the stick."""

    _running = False

    async def startup(self, *, auto_form: bool = False) -> None:
        """zigpy's start-up; resets it performs itself are expected, later ones are not."""
        self._running = False
        await super().startup(auto_form=auto_form)
        self._running = True

    async def shutdown(self, *, db: bool = True) -> None:
        """zigpy's shutdown (which resets the coordinator on purpose)."""
        self._running = False
        await super().shutdown(db=db)

    def _bind_callbacks(self) -> None:
        # zigpy-znp's hook for the callbacks it listens to; ours is one more.
        super()._bind_callbacks()
        self._znp.callback_for_response(znp_commands.SYS.ResetInd.Callback(partial=True), self._on_reset_ind)

    def _on_reset_ind(self, indication: Any) -> None:
        if not self._running:
            return
        self._running = False
        log.warning("the ZNP coordinator reset by itself (%s)", indication)
        self.connection_lost(ConnectionResetError(f"the coordinator reset ({indication.Reason!r})"))
