"""The `dir` backend: two file-backed slots and a boot pointer, with RAUC's semantics, for development.

Layout of `slots_dir`: `A.img`, `B.img` (each slot's bundle) and `boot.json`, the "bootloader's"
state: the primary slot and, per slot, its state (good | bad | trial | writing), version and remaining
boot attempts. Every change of `boot.json` is atomic (see ota.state.write_atomic), so a power cut leaves
the old or the new pointer, never a mix.

`boot()` is the bootloader: the agent calls it first at start-up. It boots the primary slot unless that
slot is bad, being written, or a trial slot with no attempts left, in which case the primary flips to
the other slot (a trial slot without attempts is marked bad). Each boot of a trial slot uses an attempt,
so a slot that keeps dying in its health window (power cut, hang, crash) is abandoned after
TRIAL_ATTEMPTS boots, like a bootloader's boot counter.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub_agent import __version__
from hub_agent.ota import EXIT_REBOOT, faults
from hub_agent.ota.backend import InstallProgress, SlotInfo, SlotStatus
from hub_agent.ota.errors import BackendError
from hub_agent.ota.state import fsync_dir, read_json, write_atomic
from hub_agent.ota.versions import Version, parse_version

log = logging.getLogger(__name__)

SLOTS = ("A", "B")
BOOT_FILE = "boot.json"
BOOTED_FILE = "booted"
#: Boots a trial slot gets to prove itself before the bootloader gives up on it.
TRIAL_ATTEMPTS = 3
CHUNK = 1024 * 1024


def _other(slot: str) -> str:
    return "B" if slot == "A" else "A"


class DirSlots:
    """File-backed A/B slots in `folder`; see the module docstring."""

    name = "dir"

    def __init__(self, folder: Path, exit_agent: Callable[[int], None]) -> None:
        self.folder = Path(folder)
        self.exit_agent = exit_agent
        self.moves_bundle = True
        self.reboots_machine = False
        self.boot_file = self.folder / BOOT_FILE
        self.bytes_written = 0  # slot bytes written by this process (for the benchmark)

    # --- the "bootloader" ---------------------------------------------------------------------

    def boot(self) -> str:
        """Choose the slot this start runs from, update attempts and the pointer; returns it."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = self._load()
        primary: str = state["primary"]
        slot = state["slots"][primary]
        if slot["state"] == "trial" and slot["attempts"] > 0:
            slot["attempts"] -= 1
        elif slot["state"] != "good":
            if slot["state"] == "trial":
                log.warning("slot %s used its %d boot attempts: marked bad", primary, TRIAL_ATTEMPTS)
                slot["state"] = "bad"
            other = _other(primary)
            if state["slots"][other]["state"] != "good":
                # Nothing better to boot: run the primary anyway (a brick is worse than a bad slot).
                log.error("no good slot: booting %s (%s)", primary, slot["state"])
            else:
                log.warning("slot %s is %s: booting %s", primary, slot["state"], other)
                state["primary"] = primary = other
        self._save(state)
        write_atomic(self.folder / BOOTED_FILE, primary.encode())
        return primary

    # --- SlotBackend ----------------------------------------------------------------------------

    async def status(self) -> SlotStatus:
        """Booted slot (from the last `boot()`), primary, each slot's state and version."""
        return await asyncio.to_thread(self._status)

    def _status(self) -> SlotStatus:
        state = self._load()
        try:
            booted: str = (self.folder / BOOTED_FILE).read_text().strip()
        except FileNotFoundError:
            booted = state["primary"]
        if booted not in SLOTS:
            raise BackendError(f"{self.folder / BOOTED_FILE}: unknown slot {booted!r}")
        slots = tuple(
            SlotInfo(name, info["state"], None if info["version"] is None else parse_version(info["version"]))
            for name, info in sorted(state["slots"].items())
        )
        return SlotStatus(booted, state["primary"], slots)

    async def install(self, bundle: Path, version: Version, sha256: str, progress: InstallProgress) -> str:
        """Move (or copy) the bundle into the inactive slot, verify it there, make it primary."""
        return await asyncio.to_thread(self._install, bundle, version, sha256, progress)

    def _install(self, bundle: Path, version: Version, sha256: str, progress: InstallProgress) -> str:
        status = self._status()
        target = _other(status.booted)
        state = self._load()
        # Not bootable while being written: a power cut from here on boots the current slot.
        state["slots"][target] = {"state": "writing", "version": None, "attempts": 0}
        self._save(state)
        faults.point("dir:slot-marked-writing")
        image = self.folder / f"{target}.img"
        progress(0)
        try:
            os.replace(bundle, image)  # same filesystem: no second copy of the bytes
            fsync_dir(self.folder)
        except OSError:
            self._copy(bundle, image, progress)
        faults.point("dir:bundle-moved")
        self.bytes_written += image.stat().st_size
        progress(90)
        digest = _sha256(image)
        if not hmac.compare_digest(digest, sha256.lower()):
            raise BackendError(f"slot {target} does not verify after writing (sha256 {digest})")
        state = self._load()
        state["slots"][target] = {"state": "trial", "version": str(version), "attempts": TRIAL_ATTEMPTS}
        state["primary"] = target
        self._save(state)
        faults.point("dir:primary-switched")
        progress(100)
        log.info("slot %s holds %s and is primary from the next boot", target, version)
        return target

    def _copy(self, bundle: Path, image: Path, progress: InstallProgress) -> None:
        total = max(1, bundle.stat().st_size)
        done = 0
        with bundle.open("rb") as src, image.open("wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                done += len(chunk)
                progress(min(89, done * 90 // total))
            dst.flush()
            os.fsync(dst.fileno())
        bundle.unlink()

    async def mark_good(self) -> None:
        """The booted slot is good (and stays primary)."""
        await asyncio.to_thread(self._mark, "good")

    async def mark_bad(self) -> None:
        """The booted slot is bad; the other becomes primary if it is good."""
        await asyncio.to_thread(self._mark, "bad")

    def _mark(self, verdict: str) -> None:
        booted = self._status().booted
        state = self._load()
        slot = state["slots"][booted]
        slot["state"] = verdict
        slot["attempts"] = 0
        if verdict == "bad" and state["slots"][_other(booted)]["state"] == "good":
            state["primary"] = _other(booted)
        self._save(state)
        log.info("slot %s marked %s", booted, verdict)

    async def reboot(self) -> None:
        """Exit the agent with EXIT_REBOOT; its supervisor (systemd) starts it again on the primary slot."""
        self.exit_agent(EXIT_REBOOT)

    async def close(self) -> None:
        """Nothing to release."""

    # --- boot.json --------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        data = read_json(self.boot_file)
        if data is None:
            # A fresh hub: slot A holds the factory image that is running now.
            blank = {"state": "bad", "version": None, "attempts": 0}
            return {
                "primary": "A",
                "slots": {"A": {"state": "good", "version": __version__, "attempts": 0}, "B": blank},
            }
        try:
            primary = data["primary"]
            slots = data["slots"]
            if primary not in SLOTS or set(slots) != set(SLOTS):
                raise ValueError("unknown slot name")
            for info in slots.values():
                if info["state"] not in ("good", "bad", "trial", "writing"):
                    raise ValueError(f"unknown slot state {info['state']!r}")
                if not isinstance(info["attempts"], int):
                    raise ValueError("attempts must be a whole number")
                if info["version"] is not None:
                    parse_version(info["version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{self.boot_file} is corrupt: {exc}") from None
        return data

    def _save(self, state: dict[str, Any]) -> None:
        write_atomic(self.boot_file, json.dumps(state, sort_keys=True).encode())


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
