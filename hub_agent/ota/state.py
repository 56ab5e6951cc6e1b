"""What OTA must remember across a power cut, in small JSON files written atomically.

`<data_dir>/ota/state.json`: the highest version ever installed (anti-rollback across slots), the update
waiting for its first boot and health window, the last error. `<data_dir>/ota/trust.json` and
`owner-root.json`: the owner's repository and root, when the owner chose their own (GPLv3 section 6).
Every write is temp file + fsync + rename + fsync of the folder: a reader sees the old or the new file,
never a mix, whatever moment the power goes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hub_agent.ota.errors import OtaError
from hub_agent.ota.versions import Version, parse_version

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
TRUST_FILE = "trust.json"
OWNER_ROOT = "owner-root.json"
#: State files are tiny; anything bigger is corruption, not state.
MAX_STATE = 64 * 1024


#: Tests that simulate a reboot without one set this; on a hub it is never set.
BOOT_ID_ENV = "HUB_AGENT_OTA_BOOT_ID"


def current_boot_id() -> str:
    """The kernel's id of this boot (a new one after every reboot), or "" if unknown."""
    override = os.environ.get(BOOT_ID_ENV)
    if override:
        return override
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def ota_dir(data_dir: Path) -> Path:
    """Where OTA keeps its state, metadata cache and downloads."""
    return Path(data_dir) / "ota"


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict[str, Any] | None:
    """A small JSON object file, or None if missing; raise OtaError naming a corrupt one."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_STATE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OtaError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_STATE:
        raise OtaError(f"{path} is larger than {MAX_STATE} bytes")
    try:
        data = json.loads(raw)
    except ValueError:
        raise OtaError(f"{path} is not JSON") from None
    if not isinstance(data, dict):
        raise OtaError(f"{path} must hold a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class Pending:
    """An update going to `slot`: phase "installing" (being written) or "installed" (made primary)."""

    version: Version
    slot: str
    phase: str = "installing"
    #: the kernel boot id when it was installed: the same id later means "not rebooted yet"
    boot_id: str = ""


@dataclass(frozen=True, slots=True)
class OtaState:
    """The durable OTA facts (see the module docstring)."""

    highest: Version | None = None
    pending: Pending | None = None
    last_error: str | None = None
    #: the last version that failed its health window: never installed again automatically
    failed: Version | None = None

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        pending = None
        if self.pending is not None:
            pending = {
                "version": str(self.pending.version),
                "slot": self.pending.slot,
                "phase": self.pending.phase,
                "boot_id": self.pending.boot_id,
            }
        return {
            "highest": None if self.highest is None else str(self.highest),
            "pending": pending,
            "last_error": self.last_error,
            "failed": None if self.failed is None else str(self.failed),
        }

    def with_error(self, error: str | None) -> OtaState:
        """A copy with `last_error` set."""
        return replace(self, last_error=error)


def _parse(data: dict[str, Any], path: Path) -> OtaState:
    try:
        highest = None if data.get("highest") is None else parse_version(data["highest"])
        pending = None
        raw = data.get("pending")
        if raw is not None:
            if not isinstance(raw, dict) or not isinstance(raw.get("slot"), str):
                raise ValueError("pending must be {version, slot, phase}")
            if raw.get("phase") not in ("installing", "installed"):
                raise ValueError("pending phase must be installing or installed")
            boot = raw.get("boot_id", "")
            if not isinstance(boot, str):
                raise ValueError("pending boot_id must be a string")
            pending = Pending(parse_version(raw.get("version")), raw["slot"], raw["phase"], boot)
        error = data.get("last_error")
        if error is not None and not isinstance(error, str):
            raise ValueError("last_error must be a string")
        failed = None if data.get("failed") is None else parse_version(data["failed"])
    except ValueError as exc:
        raise OtaError(f"{path}: {exc}") from None
    return OtaState(highest, pending, error, failed)


class StateFile:
    """Loads and saves OtaState at `<data_dir>/ota/state.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = ota_dir(data_dir) / STATE_FILE

    def load(self) -> OtaState:
        """The saved state, or the empty one on a fresh hub.

        A corrupt file (only a failing disk makes one: writes are atomic) is moved aside to
        `state.json.corrupt` and logged; updates go on from the empty state, whose anti-rollback floor
        is the running slot's version.
        """
        try:
            data = read_json(self.path)
            return OtaState() if data is None else _parse(data, self.path)
        except OtaError as exc:
            log.error("OTA state unusable, starting afresh: %s", exc)
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(STATE_FILE + ".corrupt"))
            return OtaState()

    def save(self, state: OtaState) -> None:
        """Write the state durably."""
        write_atomic(self.path, json.dumps(state.to_json(), sort_keys=True).encode())


@dataclass(frozen=True, slots=True)
class Trust:
    """Which repository and root the hub trusts for updates, and whose they are."""

    repository: str
    root: bytes
    owner: bool

    @property
    def label(self) -> str:
        """`"owner"` or `"vendor"` (the `update_trust` field)."""
        return "owner" if self.owner else "vendor"


def load_trust(data_dir: Path, repository: str, root_file: Path) -> Trust:
    """The owner's trust if they set one, else the configured (vendor) repository and root."""
    folder = ota_dir(data_dir)
    data = read_json(folder / TRUST_FILE)
    if data is not None:
        url = data.get("repository")
        if not isinstance(url, str):
            raise OtaError(f"{folder / TRUST_FILE}: repository must be a string")
        try:
            return Trust(url, (folder / OWNER_ROOT).read_bytes(), owner=True)
        except OSError as exc:
            raise OtaError(f"cannot read the owner's root {folder / OWNER_ROOT}: {exc.strerror}") from None
    try:
        return Trust(repository, root_file.read_bytes(), owner=False)
    except OSError as exc:
        raise OtaError(f"cannot read the trusted root {root_file}: {exc.strerror}") from None


def trust_label(data_dir: Path) -> str:
    """`"owner"` if the owner trusts their own repository, else `"vendor"` (reads one small file)."""
    return "owner" if (ota_dir(data_dir) / TRUST_FILE).exists() else "vendor"


def save_owner_trust(data_dir: Path, repository: str, root: bytes) -> None:
    """Trust the owner's repository and root from now on (root first, so trust.json never dangles)."""
    folder = ota_dir(data_dir)
    write_atomic(folder / OWNER_ROOT, root)
    write_atomic(folder / TRUST_FILE, json.dumps({"repository": repository}).encode())


def remove_file(path: Path) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
