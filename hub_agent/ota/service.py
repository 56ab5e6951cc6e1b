"""`OtaService`: the agent's update part — boot verdict, health window, check, download, install, reboot.

At start it settles the last update: if the booted slot is on trial it must prove health within
`health_window` (then it is marked good) or it is marked bad and the hub "reboots" into the other slot;
if an update never reached its first boot, the reason is recorded. Afterwards it checks the repository
every `check_interval`, and on demand (LAN, CLI, the cloud's `ota_available`). One check or install
runs at a time. An install reboots as soon as no rule is in a delay or a scene (the reboot window).
Every change of phase or progress is published on the bus as `{"type": "update", ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub_agent import __version__
from hub_agent.config import OtaSection
from hub_agent.ota import faults
from hub_agent.ota.backend import SlotBackend
from hub_agent.ota.control import ControlServer, socket_path
from hub_agent.ota.errors import OtaError, VersionRefused
from hub_agent.ota.health import HealthProbe
from hub_agent.ota.state import (
    OtaState,
    Pending,
    StateFile,
    current_boot_id,
    load_trust,
    ota_dir,
    save_owner_trust,
)
from hub_agent.ota.versions import Version, parse_version
from hub_agent.runtime import Runtime
from hub_core.backoff import Clock, SystemClock
from hub_core.model import UpdateProgress
from hub_core.tasks import TaskGroup

if TYPE_CHECKING:
    import ssl

    from hub_agent.ota.metadata import Offer

log = logging.getLogger(__name__)

#: Seconds between two health probes during the window, and between two looks at the reboot window.
PROBE_INTERVAL = 1.0
REBOOT_POLL = 5.0


class Phase(StrEnum):
    """The `state` field of the update status (CONTRACT 9.3)."""

    IDLE = "idle"
    CHECKING = "checking"
    DOWNLOADING = "downloading"
    INSTALLING = "installing"
    PENDING_REBOOT = "pending_reboot"
    VERIFYING = "verifying"
    FAILED = "failed"


class UpdateBusy(OtaError):
    """A check or install is already running."""


class OtaService:
    """The update part (see the module docstring)."""

    name = "ota"

    def __init__(
        self,
        runtime: Runtime,
        section: OtaSection,
        backend: SlotBackend,
        probe: HealthProbe,
        *,
        pairing_open: Callable[[], bool] = lambda: False,
        busy: Callable[[], bool] = lambda: False,
        clock: Clock | None = None,
    ) -> None:
        self.runtime = runtime
        self.section = section
        self.backend = backend
        self.probe = probe
        self.pairing_open = pairing_open
        self.busy = busy
        self.clock = clock or SystemClock()
        self.data_dir = runtime.config.hub.data_dir
        self.folder = ota_dir(self.data_dir)
        self.states = StateFile(self.data_dir)
        self.tasks = TaskGroup("ota", limit=4)
        self.phase = Phase.IDLE
        self.progress = 0
        self.available: Offer | None = None
        self.last_error: str | None = None
        self.current_version = parse_version(__version__)
        self.current_slot: str | None = None
        #: set once the boot verdict is known (healthy, rolled back, or nothing to verify)
        self.settled = asyncio.Event()
        #: set once a reboot was asked of the backend (the rauc reboot command returned, or dir's exit)
        self.rebooted = asyncio.Event()
        self._lock = asyncio.Lock()
        self._vouched = asyncio.Event()
        self._booted = False
        self._ssl: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        """The repository's TLS context, made on first use (TUF, urllib3 and aiohttp load only then)."""
        if self._ssl is None:
            from hub_agent.ota.https import ssl_context

            self._ssl = ssl_context(self.section.ca)
        return self._ssl

    # --- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The `GET /api/v1/update` object."""
        return {
            "current": {"version": str(self.current_version), "slot": self.current_slot},
            "state": self.phase.value,
            "available": None if self.available is None else self.available.to_json(),
            "progress": self.progress,
            "last_error": self.last_error,
            "update_trust": self.runtime.facts.get("update_trust", "vendor"),
        }

    def _set(self, phase: Phase, progress: int | None = None, error: str | None = None) -> None:
        changed = phase is not self.phase or (progress is not None and progress != self.progress)
        self.phase = phase
        if progress is not None:
            self.progress = progress
        if error is not None:
            self.last_error = error
            changed = True
        if changed:
            self._publish()

    def _publish(self) -> None:
        status = self.status()
        self.runtime.facts["update"] = status
        self.runtime.bus.publish(UpdateProgress(status))

    # --- the part -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Settle the last update, then check periodically until cancelled."""
        server = ControlServer(socket_path(self.data_dir), self._control)
        try:
            self.runtime.facts["update_trust"] = await asyncio.to_thread(self._trust_label)
            self.runtime.facts["ota_service"] = self
            await server.start()
            if not self._booted:
                await self._settle_boot()
                self._booted = True
                if not self.rebooted.is_set():
                    log.info(
                        "OTA ready: slot %s, version %s, %s",
                        self.current_slot,
                        self.current_version,
                        self.phase.value,
                    )
            self.settled.set()
            while True:
                await self.clock.sleep(self.section.check_interval)
                self.on_offer(None)  # the periodic check: like an offer, skipped while one runs
        finally:
            await server.close()
            await self.tasks.close()
            await self.backend.close()

    def _trust_label(self) -> str:
        return load_trust(self.data_dir, self.section.repository, self.section.root).label

    async def _settle_boot(self) -> None:
        status = await self.backend.status()
        booted = status.booted_slot
        self.current_slot = status.booted
        if booted is not None and booted.version is not None:
            self.current_version = booted.version
        state = await asyncio.to_thread(self.states.load)
        self.last_error = state.last_error
        pending = state.pending
        if (
            pending is not None
            and pending.phase == "installed"
            and pending.slot != status.booted
            and self.backend.reboots_machine
            and pending.boot_id
            and pending.boot_id == await asyncio.to_thread(current_boot_id)
        ):
            # Installed, but the machine has not rebooted yet (only the agent restarted): the new slot
            # is still primary, so wait for the reboot window again rather than call it a failure.
            log.info("update %s installed on slot %s: waiting to reboot", pending.version, pending.slot)
            self.available = None
            self._set(Phase.PENDING_REBOOT, 100)
            self.tasks.spawn(self._reboot_when_idle(), "reboot")
            return
        if pending is not None and pending.slot != status.booted:
            if pending.phase == "installed":
                error = f"update to {pending.version} did not come up on slot {pending.slot}; rolled back"
                state = replace(state, failed=pending.version)
            else:
                error = f"install of {pending.version} was interrupted; still on slot {status.booted}"
            log.warning("%s", error)
            self.last_error = error
            state = replace(state, pending=None, last_error=error)
            await asyncio.to_thread(self.states.save, state)
        # On trial: the dir backend knows it (boot counting); with RAUC the slot we made primary and
        # have not yet proven is the sign.
        on_trial = booted is not None and booted.state == "trial"
        if pending is not None and pending.slot == status.booted:
            on_trial = True
        if on_trial:
            await self._health_window(state)
        else:
            self._set(Phase.FAILED if self.last_error else Phase.IDLE)
            if state.highest is None or state.highest < self.current_version:
                # A good slot's version counts as installed (the factory image, or a finished update
                # whose state write a power cut interrupted).
                state = replace(state, highest=self.current_version, pending=None)
                await asyncio.to_thread(self.states.save, state)

    async def _health_window(self, state: OtaState) -> None:
        window = self.section.health_window
        self._set(Phase.VERIFYING, 0)
        log.info(
            "slot %s (%s) on trial: proving health within %g s",
            self.current_slot,
            self.current_version,
            window,
        )
        deadline = self.clock.monotonic() + window
        faults.point("boot:trial")
        while True:
            if self._vouched.is_set():
                return  # the owner marked the slot good (`hub-agent update mark-good`)
            failures = await self.probe.failures()
            if not failures:
                await self.backend.mark_good()
                faults.point("health:marked-good")
                await self._accept(state)
                log.info("slot %s (%s) is healthy: marked good", self.current_slot, self.current_version)
                self._set(Phase.IDLE, 100)
                return
            remaining = deadline - self.clock.monotonic()
            if remaining <= 0:
                break
            # Wake early if the owner vouches for the slot meanwhile.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(PROBE_INTERVAL, remaining)):
                    await self._vouched.wait()
        error = (
            f"slot {self.current_slot} ({self.current_version}) not healthy within {window:g} s: "
            + "; ".join(failures)
        )
        log.error("%s; marking it bad and rolling back", error)
        await self.backend.mark_bad()
        faults.point("health:marked-bad")
        state = replace(state, pending=None, failed=self.current_version, last_error=error)
        await asyncio.to_thread(self.states.save, state)
        faults.point("health:bad-saved")
        self._set(Phase.FAILED, error=error)
        await self._reboot()

    async def _reboot(self) -> None:
        await self.backend.reboot()
        self.rebooted.set()

    async def _accept(self, state: OtaState) -> None:
        highest = max(state.highest or self.current_version, self.current_version)
        await asyncio.to_thread(
            self.states.save, replace(state, highest=highest, pending=None, last_error=None)
        )
        self.last_error = None

    # --- triggers -------------------------------------------------------------------------------

    def start_check(self, *, install: bool = False) -> dict[str, Any]:
        """Start a check (and, with `install`, an install of what it finds) in the background."""
        self._claim()
        self.tasks.spawn(self._locked(self._check_then(install)), "check")
        return self.status()

    def start_install(self, version: str | None) -> dict[str, Any]:
        """Start installing `version` (None: the newest offered) in the background."""
        wanted = None if version is None else _version(version)
        self._claim()
        self.tasks.spawn(self._locked(self._install(wanted, automatic=False)), "install")
        return self.status()

    def on_offer(self, offer: object) -> None:
        """The cloud's `ota_available` (or the periodic timer): check now, and install if `auto_install`.

        Ignored while an update runs. The offer's body is not trusted for anything: TUF decides.
        """
        try:
            self.start_check(install=self.section.auto_install)
        except UpdateBusy:
            log.info("update offer ignored: an update is already in progress")

    def _claim(self) -> None:
        if self._lock.locked() or self.phase in (Phase.PENDING_REBOOT, Phase.VERIFYING):
            raise UpdateBusy(f"an update is already {self.phase.value.replace('_', ' ')}")

    async def _locked(self, job: Any) -> None:
        async with self._lock:
            try:
                await job
            except OtaError as exc:
                await self._failed(str(exc))
            except Exception as exc:
                # A bug or an unexpected library error must not leave the status stuck mid-update.
                log.exception("update failed unexpectedly")
                await self._failed(f"unexpected {type(exc).__name__}: {exc}")

    async def _failed(self, error: str) -> None:
        log.error("update: %s", error)
        try:
            await asyncio.to_thread(self._save_error, error)
        except OSError as exc:
            log.error("cannot record the update error: %s", exc)
        self._set(Phase.FAILED, error=error)

    def _save_error(self, error: str) -> None:
        self.states.save(self.states.load().with_error(error))

    async def check(self) -> Offer | None:
        """Refresh the TUF metadata; return (and remember) an update newer than anything installed."""
        self._set(Phase.CHECKING, 0)
        faults.point("check:start")
        from hub_agent.ota.https import VerifiedFetcher
        from hub_agent.ota.metadata import UpdateRepository

        trust = await asyncio.to_thread(load_trust, self.data_dir, self.section.repository, self.section.root)
        fetcher = VerifiedFetcher(self._context())
        try:
            repo = UpdateRepository(trust.repository, trust.root, self.folder / "tuf", fetcher)
            offer = await asyncio.to_thread(repo.latest)
        finally:
            fetcher.close()
        faults.point("check:refreshed")
        state = await asyncio.to_thread(self.states.load)
        floor = max(state.highest or self.current_version, self.current_version)
        if offer is not None and offer.version <= floor:
            if offer.version < floor:
                log.warning("repository offers %s, below %s: refused (anti-rollback)", offer.version, floor)
            offer = None
        self.available = offer
        self._set(Phase.IDLE, 0)
        return offer

    async def _check_then(self, install: bool) -> None:
        offer = await self.check()
        if install and offer is not None:
            await self._install(offer.version, automatic=True, offer=offer)

    async def _install(self, wanted: Version | None, *, automatic: bool, offer: Offer | None = None) -> None:
        if offer is None:
            offer = await self.check()
        if offer is None:
            raise VersionRefused("no update newer than the installed version is offered")
        if wanted is not None and offer.version != wanted:
            raise VersionRefused(
                f"{wanted} is not the update on offer (the repository offers {offer.version})"
            )
        state = await asyncio.to_thread(self.states.load)
        if automatic and state.failed == offer.version:
            log.info("update %s failed before: not installing it automatically", offer.version)
            return
        self._set(Phase.DOWNLOADING, 0)
        from hub_agent.ota.download import Downloader

        downloader = Downloader(self.folder / "downloads", self._context())
        bundle = await downloader.fetch(offer, self._download_progress)
        faults.point("download:verified")
        status = await self.backend.status()
        target = next((s.name for s in status.slots if s.name != status.booted), None)
        if target is None:
            raise OtaError("the slot backend has no inactive slot")
        self._set(Phase.INSTALLING, 0)
        state = replace(state, pending=Pending(offer.version, target, "installing"))
        await asyncio.to_thread(self.states.save, state)
        faults.point("install:intent-saved")
        sha256 = dict(offer.hashes)["sha256"]
        slot = await self.backend.install(bundle, offer.version, sha256, self._install_progress)
        boot_id = await asyncio.to_thread(current_boot_id)
        state = replace(state, pending=Pending(offer.version, slot, "installed", boot_id), last_error=None)
        await asyncio.to_thread(self.states.save, state)
        bundle.unlink(missing_ok=True)  # rauc read it in place; dir moved it: no copy stays behind
        faults.point("install:installed-saved")
        self.last_error = None
        self._set(Phase.PENDING_REBOOT, 100)
        log.info(
            "update %s installed to slot %s; rebooting when no delay or scene is running", offer.version, slot
        )
        await self._reboot_when_idle()

    async def _reboot_when_idle(self) -> None:
        """Reboot once no rule is in a delay, wait or scene (the reboot window)."""
        while self.busy():
            await self.clock.sleep(REBOOT_POLL)
        await self._reboot()

    def _download_progress(self, done: int, total: int) -> None:
        self._set(Phase.DOWNLOADING, done * 100 // max(1, total))

    def _install_progress(self, percent: int) -> None:
        self._set(Phase.INSTALLING, max(0, min(100, percent)))

    async def _control(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request from `hub-agent update ...` (see ota.control)."""
        op = request["op"]
        if op == "status":
            return self.status()
        if op == "check":
            self._claim()
            async with self._lock:
                try:
                    await self.check()
                except OtaError as exc:
                    self._set(Phase.FAILED, error=str(exc))
                    raise
            return self.status()
        if op == "install":
            return self.start_install(request.get("version"))
        if op == "mark_good":
            return await self.mark_good()
        return await self.trust(request["repository"], request["root"].encode())

    # --- owner actions ----------------------------------------------------------------------------

    async def mark_good(self) -> dict[str, Any]:
        """Mark the booted slot good now (the owner vouches for it; ends a running health window)."""
        self._vouched.set()
        await self.backend.mark_good()
        await self._accept(await asyncio.to_thread(self.states.load))
        self._set(Phase.IDLE)
        return self.status()

    async def trust(self, repository: str, root: bytes) -> dict[str, Any]:
        """Trust the owner's repository and root; only while the pairing window is open."""
        if not self.pairing_open():
            raise OtaError(
                "the pairing window is closed: press the hub's button (or run 'hub-agent pair') first"
            )
        from hub_agent.ota.trustroot import check_root

        parts = urlsplit(repository)
        if (
            parts.scheme != "https"
            or not parts.hostname
            or parts.query
            or parts.fragment
            or len(repository) > 2048
        ):
            raise OtaError(f"the repository must be an https://host/path/ URL, not {repository[:100]!r}")
        check_root(root)
        await asyncio.to_thread(save_owner_trust, self.data_dir, repository, root)
        self.runtime.facts["update_trust"] = "owner"
        self.available = None
        log.warning("updates now come from the owner's repository %s", repository)
        self._publish()
        return self.status()


def _version(text: str) -> Version:
    try:
        return parse_version(text)
    except ValueError as exc:
        raise OtaError(str(exc)) from None
