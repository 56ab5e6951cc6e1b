"""SmartStart inclusion: a provisioned node that announces itself joins without anyone opening inclusion.

Rules of this file: this layer owns the stick's SmartStart listen mode and nothing else of inclusion.

- Listening: while the provisioning list has an entry, the stick is kept in SmartStart listen mode
  (AddNodeToNetwork mode 0x09, no callback). `sync()` compares what should be with what the stick was
  last told and sends listen or STOP; it runs after every change that may matter (`poke()`): the list
  changed, a classic inclusion/exclusion or failed-node removal ended, a SmartStart join ended, the
  stick came back (start, recovery, soft reset: a reset stick forgets its mode). Classic inclusion and
  exclusion take priority: `classic()` stops listening before they open, and listening waits until
  they are over.
- Announcement (ApplicationUpdate 0x85, `SmartStartRequest`): its NWI home id is looked up in the
  provisioning list. Unknown ones are ignored (counted in `ignored`; logged at most once a minute).
  One that arrives while a node is being included, or while we are not listening, is ignored too
  (counted in `busy`): the node keeps announcing itself, so it is heard again once we listen again.
  A match is included with AddNodeToNetwork SmartStart-DSK (0x08, the entry's NWI and auth home ids),
  then S2-bootstrapped with the entry's DSK (no PIN; the classes the node requests, at most those its
  QR code requested when it was added from one), then set up as
  any joined node (`device_added`, `security`). The event stream gets `{"type":"inclusion",
  "state":"smart_start","device","dsk"}` (the entry's DSK, first 5 digits hidden) and the log names
  the entry.
- Failure: a node whose S2 bootstrapping fails (wrong key, no answer) is removed with RemoveFailedNode
  when the stick lists it as failed - a SmartStart node that fails bootstrapping leaves the network and
  announces itself again, so it retries (zwave-js does the same). A node that is still there stays
  included without security, as after a failed classic bootstrap (`security_failed` says why). After
  `MAX_FAILURES` failed bootstraps in a row an entry's requests are ignored (counted in `refused`) until
  it is provisioned again: a node that can never bootstrap must not keep the stick busy forever.
- Limits: one SmartStart join at a time; AddNode SmartStart-DSK waits `JOIN_TIMEOUT` for the node;
  opening classic inclusion or exclusion while a SmartStart node joins waits for that join to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from hub_core.errors import HubError, RadioUnavailable
from hub_core.tasks import TaskGroup, TooManyTasks
from radios.zwave.controller import Controller, Included
from radios.zwave.messages import SmartStartRequest
from radios.zwave.nodes import NodeRegistry
from radios.zwave.setup import NodeSetup

from .classes import dsk_hidden
from .provisioning import Provisioned, ProvisioningList
from .service import InclusionNotice, ZWaveSecurity

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 60.0  # AddNode SmartStart-DSK: how long the stick may take to find the node again
UNKNOWN_LOG_INTERVAL = 60.0  # at most one log line a minute about unknown announcements
MAX_FAILURES = 5  # failed SmartStart bootstraps in a row before an entry's requests are ignored


class SmartStart:
    """Listen mode and SmartStart joins for one Z-Wave radio; see the module docstring."""

    def __init__(
        self,
        *,
        controller: Callable[[], Controller],
        provisioning: ProvisioningList,
        security: ZWaveSecurity,
        registry: NodeRegistry,
        setup: NodeSetup,
        classic_busy: Callable[[], bool],
        notify: Callable[[InclusionNotice], None],
        join_timeout: float = JOIN_TIMEOUT,
        max_failures: int = MAX_FAILURES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._controller = controller
        self._provisioning = provisioning
        self._security = security
        self._registry = registry
        self._setup = setup
        self._classic_busy = classic_busy
        self._notify = notify
        self._join_timeout = join_timeout
        self._max_failures = max_failures
        self._failures: dict[str, int] = {}  # DSK -> failed joins in a row (entries of the list only)
        self._clock = clock
        self._lock = asyncio.Lock()  # one listen/stop/AddNode exchange at a time
        self._tasks = TaskGroup("zwave smartstart", limit=8)
        self._joins = TaskGroup("zwave smartstart join", limit=1)
        self._opening = 0  # classic network modes being opened right now
        self._joining: Provisioned | None = None
        self._changed = asyncio.Event()
        self._last_unknown_log: float | None = None
        self._closed = False
        self.listening = False  # what the stick was last told
        self.ignored = 0  # announcements with an NWI home id not in the list
        self.busy = 0  # announcements while including or not listening
        self.joined = 0  # nodes included by SmartStart
        self.refused = 0  # requests of entries that failed `max_failures` times in a row

    # --- listen mode ------------------------------------------------------------------------------

    def _wanted(self) -> bool:
        return (
            len(self._provisioning) > 0
            and not self._opening
            and self._joining is None
            and not self._classic_busy()
        )

    async def sync(self) -> None:
        """Tell the stick to listen or to stop, if that differs from what it was last told."""
        if self._wanted() == self.listening:
            return  # nothing to do: do not queue behind a SmartStart AddNode holding the lock
        async with self._lock:
            want = self._wanted()
            if want == self.listening:
                return
            try:
                controller = self._controller()
            except RadioUnavailable:
                return  # not running: the next start or recovery re-arms
            try:
                if want:
                    await controller.smart_start_listen()
                else:
                    await controller.smart_start_stop()
            except HubError as exc:  # e.g. the stick did not ACK: the next change tries again
                log.warning("zwave: could not %s SmartStart listening: %s", "start" if want else "stop", exc)
                return
            self._set_listening(want)
            log.info("zwave: SmartStart listening %s", "on" if want else "off")

    def _set_listening(self, value: bool) -> None:
        if value != self.listening:
            self.listening = value
            self._changed.set()
            self._changed = asyncio.Event()

    def poke(self) -> None:
        """Something that decides listening changed: sync soon (in the background)."""
        if self._closed:
            return
        with contextlib.suppress(TooManyTasks):  # syncs not yet run will see the latest state anyway
            self._tasks.spawn(self.sync(), "sync")

    def restarted(self) -> None:
        """The stick (re)started or was soft-reset: it forgot its listen mode; re-arm it."""
        self._closed = False
        self._set_listening(False)
        self.poke()

    async def wait_listening(self, value: bool, timeout: float) -> None:
        """Return once `listening` is `value`; TimeoutError after `timeout` (tests, status)."""
        async with asyncio.timeout(timeout):
            while self.listening != value:
                await self._changed.wait()

    @contextlib.asynccontextmanager
    async def classic(self) -> AsyncIterator[None]:
        """Around opening classic inclusion/exclusion: let a SmartStart join finish (AddNode and an
        interview never overlap), stop listening, and re-arm when they end (`poke` at their end)."""
        self._opening += 1
        try:
            await self._joins.settle()
            await self.sync()
            yield
        finally:
            self._opening -= 1
            self.poke()

    async def close(self) -> None:
        """Stop syncing and joining (the radio stops)."""
        self._closed = True
        await self._joins.close()
        await self._tasks.close()
        self._set_listening(False)

    # --- announcements ----------------------------------------------------------------------------

    def announced(self, request: SmartStartRequest) -> None:
        """A node asks to be included (from the receive path: no awaits here)."""
        if self._closed or self._joining is not None or self._opening or not self.listening:
            self.busy += 1
            log.debug("zwave: SmartStart request %08x ignored: busy", request.nwi_home_id)
            return
        entry = self._provisioning.by_nwi_home_id(request.nwi_home_id)
        if entry is None:
            self.ignored += 1
            now = self._clock()
            if self._last_unknown_log is None or now - self._last_unknown_log >= UNKNOWN_LOG_INTERVAL:
                self._last_unknown_log = now
                log.info(
                    "zwave: SmartStart request from home id %08x, not provisioned; ignored (%d so far)",
                    request.nwi_home_id,
                    self.ignored,
                )
            return
        if self._failures.get(entry.dsk, 0) >= self._max_failures:
            self.refused += 1
            log.debug("zwave: SmartStart request of %r ignored: it failed too often", entry.name or entry.dsk)
            return
        self._joining = entry
        try:
            self._joins.spawn(self._include(entry), f"include {entry.name or entry.dsk[6:]}")
        except TooManyTasks:  # pragma: no cover - _joining guards the one slot
            self._joining = None

    async def _include(self, entry: Provisioned) -> None:
        try:
            async with self._lock:
                controller = self._controller()
                # AddNode SmartStart-DSK replaces listen mode on the stick.
                self._set_listening(False)
                joined = await controller.add_node(self._join_timeout, home_ids=entry.home_ids())
            if joined is None:
                log.warning("zwave: SmartStart node %r did not join", entry.name or entry.dsk)
                return
            await self._join(joined, entry)
        except HubError as exc:
            log.warning("zwave: SmartStart inclusion of %r failed: %s", entry.name or entry.dsk, exc)
        finally:
            self._joining = None
            self.poke()

    async def _join(self, joined: Included, entry: Provisioned) -> None:
        node_id = joined.node_id
        record = self._registry.add(node_id)
        ccs = joined.info.command_classes if joined.info is not None else ()
        hidden = dsk_hidden(entry.key_bytes())
        self.joined += 1
        log.info(
            "zwave: node %d joined by SmartStart as provisioning entry %r (%s)", node_id, entry.name, hidden
        )
        self._notify(InclusionNotice("smart_start", node_id, dsk=hidden))
        if await self._security.bootstrap_provisioned(node_id, entry):
            self._failures.pop(entry.dsk, None)
        else:
            self._failures[entry.dsk] = self._failures.get(entry.dsk, 0) + 1
            if await self._remove(node_id):
                return
        await self._setup.setup(record, ccs, awake=True)

    def provisioned(self, dsk: str) -> None:
        """An entry was (re)added or removed: it may try again from zero failures."""
        self._failures.pop(dsk, None)

    async def _remove(self, node_id: int) -> bool:
        """Remove a node whose SmartStart bootstrapping failed, if it left; True if it was removed."""
        controller = self._controller()
        if not await controller.is_failed(node_id) or not await controller.remove_failed(node_id):
            log.warning("zwave: node %d failed SmartStart bootstrapping but is still there; kept", node_id)
            return False
        log.info("zwave: node %d failed SmartStart bootstrapping and left; removed, it may retry", node_id)
        self._registry.forget(node_id)
        await self._registry.persist()
        return True
