"""A TUF repository built per test with python-tuf's Metadata API, in a folder an HTTPS server serves.

Layout: `<folder>/metadata/{N}.root.json`, `timestamp.json`, `{N}.snapshot.json`, `{N}.targets.json`
(consistent snapshots for metadata) and `<folder>/targets/<name>` (plain names). `publish()` signs and
writes everything; the attack helpers keep old files to replay and forge new ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,  # noqa: F401  (kept for tests that want delegations)
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "timestamp", "snapshot", "targets")


def _in(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


class TufRepo:
    """One repository: keys, the four top-level roles, targets; `publish()` writes a new consistent state."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata_dir = folder / "metadata"
        self.targets_dir = folder / "targets"
        self.metadata_dir.mkdir(parents=True)
        self.targets_dir.mkdir(parents=True)
        self.signers = {role: CryptoSigner.generate_ed25519() for role in ROLES}
        root = Root(expires=_in(365), consistent_snapshot=True)
        for role, signer in self.signers.items():
            root.add_key(signer.public_key, role)
        self.root = Metadata(root)
        self.targets = Metadata(Targets(expires=_in(30)))
        self.snapshot = Metadata(Snapshot(expires=_in(7)))
        self.timestamp = Metadata(Timestamp(expires=_in(1)))
        self._sign_write_root()
        self.publish()

    # --- building -------------------------------------------------------------------------------

    def root_bytes(self, version: int = 1) -> bytes:
        """The root metadata of `version` as served (the hub ships version 1)."""
        return (self.metadata_dir / f"{version}.root.json").read_bytes()

    def add_target(self, name: str, data: bytes, version: str | None, **custom: object) -> TargetFile:
        """Put `data` in targets/ and list it with `custom.version` (None: no version)."""
        (self.targets_dir / name).write_bytes(data)
        target = TargetFile.from_data(name, data, ["sha256"])
        extra: dict[str, object] = dict(custom)
        if version is not None:
            extra["version"] = version
        target.unrecognized_fields["custom"] = extra
        self.targets.signed.targets[name] = target
        return target

    def publish(self, *, timestamp_expires: dt.datetime | None = None) -> None:
        """Sign and write a new targets, snapshot and timestamp version."""
        self.targets.signed.version += 1
        self._write(self.targets, f"{self.targets.signed.version}.targets.json")
        self.snapshot.signed.version += 1
        self.snapshot.signed.meta["targets.json"] = MetaFile(self.targets.signed.version)
        self._write(self.snapshot, f"{self.snapshot.signed.version}.snapshot.json")
        self.timestamp.signed.version += 1
        self.timestamp.signed.snapshot_meta = MetaFile(self.snapshot.signed.version)
        self.timestamp.signed.expires = timestamp_expires or _in(1)
        self._write(self.timestamp, "timestamp.json")

    def rotate_root(self, role: str) -> None:
        """A new root version with a fresh key for `role` (signed by the old and new root keys)."""
        old_root_signer = self.signers["root"]
        new = CryptoSigner.generate_ed25519()
        root = self.root.signed
        for keyid in list(root.roles[role].keyids):
            root.revoke_key(keyid, role)
        root.add_key(new.public_key, role)
        self.signers[role] = new
        root.version += 1
        self.root.signatures.clear()
        self.root.sign(old_root_signer, append=True)
        if role == "root":
            self.root.sign(new, append=True)
        (self.metadata_dir / f"{root.version}.root.json").write_bytes(self.root.to_bytes(JSONSerializer()))

    def _sign_write_root(self) -> None:
        self.root.signatures.clear()
        self.root.sign(self.signers["root"])
        path = self.metadata_dir / f"{self.root.signed.version}.root.json"
        path.write_bytes(self.root.to_bytes(JSONSerializer()))

    def _write(self, metadata: Metadata, name: str) -> None:
        role = metadata.signed.type
        metadata.signatures.clear()
        metadata.sign(self.signers[role])
        (self.metadata_dir / name).write_bytes(metadata.to_bytes(JSONSerializer()))

    # --- attacks --------------------------------------------------------------------------------

    def read(self, name: str) -> bytes:
        """A metadata file as served now."""
        return (self.metadata_dir / name).read_bytes()

    def serve(self, name: str, data: bytes) -> None:
        """Replace a served metadata file (an attacker on the path, or a compromised mirror)."""
        (self.metadata_dir / name).write_bytes(data)

    def tamper_target(self, name: str, data: bytes) -> None:
        """Serve different bytes for a target without changing the signed metadata."""
        (self.targets_dir / name).write_bytes(data)


def sha256(data: bytes) -> str:
    """Hex sha256."""
    return hashlib.sha256(data).hexdigest()
