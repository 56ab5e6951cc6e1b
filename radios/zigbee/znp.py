"""zigpy-znp's ControllerApplication, plus the one thing it does not do: notice a coordinator reset.

Z-Stack sends SYS_RESET_IND when the coordinator reboots on its own (watchdog, brown-out, a crash).
zigpy-znp waits for that indication only around the resets it asks for itself; one arriving while
the network runs goes unhandled, and the coordinator then runs no network and has forgotten the
host's endpoints, so every device stays silent until the host restarts. This subclass reports such
a reset as a lost connection, which makes the adapter rebuild the application in-process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import zigpy_znp.commands as znp_commands
from zigpy_znp.zigbee.application import ControllerApplication as _ZnpApplication

log = logging.getLogger(__name__)

#: how long shutdown waits for requests already queued for the stick
SETTLE_TIMEOUT = 2.0


class ControllerApplication(_ZnpApplication):  # type: ignore[misc]  # zigpy-znp ships no type hints
    """zigpy-znp's application; an unsolicited reset indication counts as losing the stick."""

    _running = False

    async def startup(self, *, auto_form: bool = False) -> None:
        """zigpy's start-up; resets it performs itself are expected, later ones are not."""
        self._running = False
        await super().startup(auto_form=auto_form)
        self._running = True

    async def shutdown(self, *, db: bool = True) -> None:
        """zigpy's shutdown (which resets the coordinator on purpose), once requests in flight ended."""
        self._running = False
        await self._settle_requests()
        await super().shutdown(db=db)

    async def _settle_requests(self) -> None:
        """Let the requests queued for the serial link end before the link closes under them.

        zigpy-znp shields each data request from cancellation, so a request whose caller was
        cancelled (a device interview cut short by shutdown) still runs; if the port closes first it
        fails inside a task nobody awaits and asyncio logs a traceback. Taking zigpy-znp's request lock
        at the lowest priority waits (bounded) until the queue ahead has been sent; requests still
        waiting after that end as cancelled.
        """
        znp = self._znp
        if znp is None:
            return
        lock = znp._sync_request_lock
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT), lock(priority=-1_000_000):
                pass
        except TimeoutError:
            log.debug("zigpy-znp requests still queued at shutdown; cancelling them")
        lock.cancel_waiting(asyncio.CancelledError())

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
