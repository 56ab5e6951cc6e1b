"""TUF metadata through ngclient against a real repository over HTTPS: offers, and every attack refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Timestamp

from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.https import VerifiedFetcher, ssl_context
from hub_agent.ota.metadata import Offer, UpdateRepository
from hub_agent.ota.versions import parse_version
from ota.https_server import RepoServer, UpdateCA
from ota.tufrepo import TufRepo, sha256


async def latest(
    server: RepoServer, repo: TufRepo, cache: Path, ca: Path | None, root: bytes | None = None
) -> Offer | None:
    fetcher = VerifiedFetcher(ssl_context(ca), timeout=5)
    try:
        updates = UpdateRepository(server.url, root or repo.root_bytes(), cache, fetcher)
        return await asyncio.to_thread(updates.latest)
    finally:
        fetcher.close()


async def test_newest_versioned_target_is_offered(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"one-two", "1.2.0")
    repo.add_target("hub-1.10.0.bundle", b"one-ten", "1.10.0")
    repo.add_target("hub-2.0.0-rc.1.bundle", b"rc", "2.0.0-rc.1")
    repo.add_target("notes.txt", b"no version", None)
    repo.add_target("bad.bundle", b"bad", "not-semver")
    repo.publish()
    offer = await latest(server, repo, tmp_path / "cache", test_ca.ca_file)
    assert offer is not None
    assert offer.version == parse_version("2.0.0-rc.1")
    assert offer.url == f"{server.url}targets/hub-2.0.0-rc.1.bundle"
    assert offer.length == 2
    assert dict(offer.hashes)["sha256"] == sha256(b"rc")


async def test_no_versioned_target_offers_nothing(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    assert await latest(server, repo, tmp_path / "cache", test_ca.ca_file) is None


async def test_https_unknown_ca_refused(server: RepoServer, repo: TufRepo, tmp_path: Path) -> None:
    with pytest.raises(OtaError, match="cannot reach"):
        await latest(server, repo, tmp_path / "cache", None)


async def test_freeze_attack_expired_timestamp_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish(timestamp_expires=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with pytest.raises(UntrustedUpdate, match="Expired"):
        await latest(server, repo, tmp_path / "cache", test_ca.ca_file)


async def test_rollback_attack_old_timestamp_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    old = repo.read("timestamp.json")
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    cache = tmp_path / "cache"
    assert await latest(server, repo, cache, test_ca.ca_file) is not None
    repo.serve("timestamp.json", old)  # an attacker replays the older, still validly signed timestamp
    with pytest.raises(UntrustedUpdate, match=r"BadVersionNumber|version"):
        await latest(server, repo, cache, test_ca.ca_file)


async def test_mix_and_match_snapshot_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    # Serve, under the name the timestamp points to, the previous snapshot (a mix of repository states).
    current = repo.snapshot.signed.version
    repo.serve(f"{current}.snapshot.json", repo.read(f"{current - 1}.snapshot.json"))
    with pytest.raises(UntrustedUpdate):
        await latest(server, repo, tmp_path / "cache", test_ca.ca_file)


async def test_arbitrary_metadata_signed_by_unknown_key_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    from securesystemslib.signer import CryptoSigner

    repo.add_target("evil.bundle", b"evil", "9.9.9")
    repo.signers["targets"] = CryptoSigner.generate_ed25519()  # the attacker's key, not in root
    repo.publish()
    with pytest.raises(UntrustedUpdate, match=r"Unsigned|signature|threshold"):
        await latest(server, repo, tmp_path / "cache", test_ca.ca_file)


async def test_endless_data_metadata_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    from ota.https_server import Faults

    server.faults["metadata/timestamp.json"] = Faults(extra=b" " * (32 * 1024))
    with pytest.raises(OtaError):
        await latest(server, repo, tmp_path / "cache", test_ca.ca_file)


async def test_fast_forward_recovery_after_timestamp_key_rotation(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    """An attacker with the timestamp key pushed version 1000; rotating the key lets clients recover."""

    cache = tmp_path / "cache"
    repo.timestamp.signed.version = 999
    repo.publish()  # the attacker's fast-forwarded timestamp (version 1000), signed with the then-valid key
    assert await latest(server, repo, cache, test_ca.ca_file) is None
    # The repository rotates the timestamp key and goes back to sane versions.
    repo.rotate_root("timestamp")
    repo.timestamp.signed.version = 1
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    offer = await latest(server, repo, cache, test_ca.ca_file)
    assert offer is not None and str(offer.version) == "1.2.0"


async def test_fast_forward_without_rotation_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    repo.timestamp.signed.version = 999
    repo.publish()
    assert await latest(server, repo, cache, test_ca.ca_file) is None
    repo.timestamp.signed.version = 1  # back to low numbers without rotating the key: refused
    repo.publish()
    with pytest.raises(UntrustedUpdate):
        await latest(server, repo, cache, test_ca.ca_file)


async def test_root_rotation_followed(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.rotate_root("root")
    repo.rotate_root("targets")
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    offer = await latest(server, repo, tmp_path / "cache", test_ca.ca_file, root=repo.root_bytes(1))
    assert offer is not None
    assert (
        json.loads((tmp_path / "cache").glob("*/root.json").__next__().read_bytes())["signed"]["version"] == 3
    )


def test_published_timestamp_is_what_the_repo_holds(repo: TufRepo) -> None:
    md = Metadata[Timestamp].from_bytes(repo.read("timestamp.json"))
    assert md.signed.version == repo.timestamp.signed.version
