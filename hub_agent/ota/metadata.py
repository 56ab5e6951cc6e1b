"""Which update the repository offers, verified by TUF (python-tuf's ngclient) before anything is believed.

ngclient does the TUF client workflow: root rotation from the shipped root, then timestamp, snapshot and
targets, each signature-, version-, expiry-, length- and hash-checked against what it already trusts. Its
trusted copies live in `<data_dir>/ota/tuf/<anchor>/` (one folder per trust anchor, so an owner's root
never mixes with the vendor's); keeping them is what refuses rollback and freeze attacks across restarts.
A target is an update when its `custom.version` is a semantic version; the newest one wins.

Targets are fetched by their plain path (`<repository>targets/<path>`, no hash prefix), by our own
resumable downloader, which checks length and hashes from the verified TargetFile.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import Updater, UpdaterConfig

from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.https import VerifiedFetcher
from hub_agent.ota.versions import Version, parse_version

log = logging.getLogger(__name__)

#: Hash algorithms we verify targets with; a target without sha256 is refused.
HASHES = ("sha256", "sha512")
#: Metadata size limits (bytes); a bigger file is an endless-data attack, refused while downloading.
#: Every refresh starts from the shipped root, so a hub follows at most `max_root_rotations` root
#: versions past it, ever: 32 would strand a hub whose firmware is older than 32 rotations (python-tuf
#: raised its own default to 256 for that reason). A repository holding the root keys can make a
#: refresh fetch and keep up to 256 x 256 KiB of roots.
LIMITS = UpdaterConfig(
    max_root_rotations=256,
    max_delegations=8,
    root_max_length=256 * 1024,
    timestamp_max_length=16 * 1024,
    snapshot_max_length=1024 * 1024,
    targets_max_length=4 * 1024 * 1024,
    prefix_targets_with_hash=False,
)
#: The biggest bundle we accept (bytes), whatever the metadata says.
MAX_BUNDLE = 2 * 1024**3


@dataclass(frozen=True, slots=True)
class Offer:
    """An update the repository offers, with everything needed to download and verify it."""

    version: Version
    path: str
    url: str
    length: int
    hashes: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, object]:
        """`{"version", "length"}` for the status (CONTRACT 9.3)."""
        return {"version": str(self.version), "length": self.length}


def anchor_id(root: bytes) -> str:
    """A short name for a trust anchor: the hash of its root metadata."""
    return hashlib.sha256(root).hexdigest()[:16]


def _offer(target: TargetFile, targets_url: str) -> Offer | None:
    custom = target.custom
    raw = custom.get("version") if isinstance(custom, dict) else None
    if raw is None:
        return None
    try:
        version = parse_version(raw)
    except ValueError as exc:
        log.warning("update target %s: bad custom.version: %s", target.path, exc)
        return None
    hashes = tuple((name, value) for name, value in sorted(target.hashes.items()) if name in HASHES)
    if not re.fullmatch(r"[0-9a-f]{64}", dict(hashes).get("sha256", "")):
        log.warning("update target %s: no (well-formed) sha256 hash, ignored", target.path)
        return None
    if not 0 < target.length <= MAX_BUNDLE:
        log.warning("update target %s: length %d out of range, ignored", target.path, target.length)
        return None
    return Offer(version, target.path, targets_url + target.path, target.length, hashes)


class UpdateRepository:
    """One TUF repository seen through one trusted root; `latest()` is blocking (call it in a thread)."""

    def __init__(self, repository: str, root: bytes, cache: Path, fetcher: VerifiedFetcher) -> None:
        base = repository if repository.endswith("/") else repository + "/"
        self.metadata_url = base + "metadata/"
        self.targets_url = base + "targets/"
        self.root = root
        self.cache = cache / anchor_id(root)
        self._fetcher = fetcher

    def latest(self) -> Offer | None:
        """Refresh the metadata and return the newest versioned target; raise UntrustedUpdate/OtaError."""
        self.cache.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            updater = Updater(
                str(self.cache),
                self.metadata_url,
                target_base_url=self.targets_url,
                fetcher=self._fetcher,
                config=LIMITS,
                bootstrap=self.root,
            )
            updater.refresh()
            # refresh() persists targets.json only after verifying it; the listing of offers is the
            # top-level role (delegations are not used by our repositories).
            targets = Metadata[Targets].from_file(str(self.cache / "targets.json")).signed.targets
        except exceptions.DownloadError as exc:
            raise OtaError(f"cannot reach the update repository: {_reason(exc)}") from None
        except exceptions.RepositoryError as exc:
            raise UntrustedUpdate(f"update metadata refused: {type(exc).__name__}: {exc}") from None
        except (ValueError, OSError) as exc:
            raise UntrustedUpdate(f"update metadata unusable: {exc}") from None
        offers = [o for o in (_offer(t, self.targets_url) for t in targets.values()) if o is not None]
        return max(offers, key=lambda o: o.version, default=None)


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    while cause is not None and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__
    return f"{exc}: {cause}" if cause is not None else str(exc)
