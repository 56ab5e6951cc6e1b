"""TUF metadata at its limits (issue 19), against a real python-tuf repository over verified HTTPS.

Each metadata size limit at its exact value and one byte over, the root-rotation budget of one refresh,
the bundle length bounds, which hashes make an offer, the repository URL's slash, where trusted state is
kept, and the message that names why a repository could not be reached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import socket
import stat
from pathlib import Path

import pytest
from tuf.api.metadata import TargetFile

from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.https import VerifiedFetcher, ssl_context
from hub_agent.ota.metadata import Offer, UpdateRepository
from hub_agent.ota.versions import parse_version
from ota.https_server import Faults, RepoServer, UpdateCA
from ota.tufrepo import TufRepo, sha256

# A hang in a mutated loop must end the run, not wait for the worker thread forever.
pytestmark = pytest.mark.timeout(20, method="thread")

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


async def _latest(
    url: str, repo: TufRepo, cache: Path, ca: Path | None, root: bytes | None = None
) -> Offer | None:
    fetcher = VerifiedFetcher(ssl_context(ca), timeout=5)
    try:
        updates = UpdateRepository(url, root or repo.root_bytes(), cache, fetcher)
        return await asyncio.to_thread(updates.latest)
    finally:
        fetcher.close()


def _listed(repo: TufRepo, name: str, length: int, version: str, **hashes: str) -> None:
    """List a target by its metadata only (no file): what matters here is what the hub offers."""
    target = TargetFile(length, hashes or {"sha256": sha256(name.encode())}, name)
    target.unrecognized_fields["custom"] = {"version": version}
    repo.targets.signed.targets[name] = target


# --- metadata size limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "limit"),
    [("timestamp", 16 * KIB), ("snapshot", 1 * MIB), ("targets", 4 * MIB), ("root", 256 * KIB)],
)
async def test_each_metadata_file_is_accepted_at_its_limit_and_refused_one_byte_over(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, role: str, limit: int
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    if role == "root":
        repo.rotate_root("root")
    repo.publish()
    name = {
        "timestamp": "timestamp.json",
        "snapshot": f"{repo.snapshot.signed.version}.snapshot.json",
        "targets": f"{repo.targets.signed.version}.targets.json",
        "root": "2.root.json",
    }[role]
    size = len(repo.read(name))
    # Trailing spaces keep the JSON (and its signature over the canonical form) valid.
    server.faults[f"metadata/{name}"] = Faults(extra=b" " * (limit - size))
    offer = await _latest(server.url, repo, tmp_path / "at", test_ca.ca_file, repo.root_bytes(1))
    assert offer is not None and str(offer.version) == "1.2.0"
    server.faults[f"metadata/{name}"] = Faults(extra=b" " * (limit + 1 - size))
    with pytest.raises(OtaError, match=f"exceeding the maximum allowed length of {limit}"):
        await _latest(server.url, repo, tmp_path / "over", test_ca.ca_file, repo.root_bytes(1))


# --- root rotations ---------------------------------------------------------------------------------


async def test_a_hub_256_root_versions_behind_catches_up_in_one_refresh_not_257(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    """Every refresh starts from the shipped root: the rotation budget is how far a hub can ever follow."""
    for _ in range(256):
        repo.rotate_root("targets")  # each root version names a new key for targets
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    offer = await _latest(server.url, repo, tmp_path / "c1", test_ca.ca_file, repo.root_bytes(1))
    assert offer is not None and str(offer.version) == "1.2.0"
    repo.rotate_root("targets")  # root 258: one past what a hub shipped with root 1 may follow
    repo.publish()
    with pytest.raises(UntrustedUpdate, match="targets was signed by 0/1 keys"):
        await _latest(server.url, repo, tmp_path / "c2", test_ca.ca_file, repo.root_bytes(1))
    offer = await _latest(server.url, repo, tmp_path / "c3", test_ca.ca_file, repo.root_bytes(2))
    assert offer is not None  # a hub shipped with a newer root follows it


# --- which targets are offers -----------------------------------------------------------------------


async def test_bundle_length_must_be_between_one_byte_and_2_gib(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _listed(repo, "tiny.bundle", 1, "1.0.1")
    _listed(repo, "empty.bundle", 0, "9.0.0")
    repo.publish()
    offer = await _latest(server.url, repo, tmp_path / "c1", test_ca.ca_file)
    assert offer is not None and (str(offer.version), offer.length) == ("1.0.1", 1)
    _listed(repo, "biggest.bundle", 2 * GIB, "2.0.0")
    _listed(repo, "too-big.bundle", 2 * GIB + 1, "3.0.0")
    repo.publish()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub_agent.ota.metadata"):
        offer = await _latest(server.url, repo, tmp_path / "c2", test_ca.ca_file)
    assert offer is not None and (str(offer.version), offer.length) == ("2.0.0", 2 * GIB)
    assert sorted(r.getMessage() for r in caplog.records if "out of range" in r.getMessage()) == [
        "update target empty.bundle: length 0 out of range, ignored",
        f"update target too-big.bundle: length {2 * GIB + 1} out of range, ignored",
    ]


async def test_an_offer_needs_a_well_formed_sha256_and_carries_only_the_hashes_we_verify(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = hashlib.sha256(b"good").hexdigest()
    wide = hashlib.sha512(b"good").hexdigest()
    _listed(repo, "sha512-only.bundle", 4, "5.0.0", sha512=wide)
    _listed(repo, "upper.bundle", 4, "4.0.0", sha256=good.upper())
    _listed(repo, "short.bundle", 4, "3.0.0", sha256=good[:-1])
    _listed(repo, "good.bundle", 4, "1.0.0", sha256=good, sha512=wide, md5="0" * 32)
    repo.publish()
    with caplog.at_level(logging.WARNING, logger="hub_agent.ota.metadata"):
        offer = await _latest(server.url, repo, tmp_path / "cache", test_ca.ca_file)
    assert offer is not None and offer.path == "good.bundle"
    assert offer.hashes == (("sha256", good), ("sha512", wide))
    ignored = sorted(r.getMessage() for r in caplog.records if "sha256" in r.getMessage())
    assert ignored == [
        f"update target {n}: no (well-formed) sha256 hash, ignored"
        for n in ("sha512-only.bundle", "short.bundle", "upper.bundle")
    ]


async def test_a_repository_url_without_its_trailing_slash_works(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    offer = await _latest(server.url.rstrip("/"), repo, tmp_path / "cache", test_ca.ca_file)
    assert offer is not None and offer.url == f"{server.url}targets/hub-1.2.0.bundle"


def test_an_offer_is_a_frozen_value_with_its_status_form() -> None:
    offer = Offer(
        parse_version("1.2.0"), "hub.bundle", "https://h/targets/hub.bundle", 5, (("sha256", "0" * 64),)
    )
    assert offer.to_json() == {"version": "1.2.0", "length": 5}
    assert {offer, dataclasses.replace(offer)} == {offer}
    with pytest.raises(dataclasses.FrozenInstanceError):
        offer.length = 6  # type: ignore[misc]


# --- trusted state on disk --------------------------------------------------------------------------


async def test_trusted_state_lives_in_one_private_folder_per_root(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    """The folder is named by the root's hash (16 hex digits): an upgrade must find it, or rollback
    protection would start over; an owner's root never shares it with the vendor's."""
    repo.add_target("hub-1.2.0.bundle", b"x", "1.2.0")
    repo.publish()
    cache = tmp_path / "cache"
    await _latest(server.url, repo, cache, test_ca.ca_file)
    first = hashlib.sha256(repo.root_bytes()).hexdigest()[:16]
    assert [p.name for p in cache.iterdir()] == [first]
    assert stat.S_IMODE((cache / first).stat().st_mode) == 0o700
    repo.rotate_root("root")
    await _latest(server.url, repo, cache, test_ca.ca_file, repo.root_bytes(2))  # another anchor
    second = hashlib.sha256(repo.root_bytes(2)).hexdigest()[:16]
    assert sorted(p.name for p in cache.iterdir()) == sorted([first, second])


# --- why a repository could not be reached ---------------------------------------------------------------


async def test_a_refused_connection_is_named_as_such(repo: TufRepo, tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"https://127.0.0.1:{closed.getsockname()[1]}/"
        with pytest.raises(OtaError) as caught:
            await _latest(url, repo, tmp_path / "cache", None)
    assert not isinstance(caught.value, UntrustedUpdate)
    assert str(caught.value) == (
        f"cannot reach the update repository: timed out connecting to {url}metadata/2.root.json: "
        "[Errno 111] Connection refused"
    )


async def test_an_http_error_is_named_with_its_status_and_url(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    server.faults["metadata/timestamp.json"] = Faults(status=500)
    with pytest.raises(OtaError) as caught:
        await _latest(server.url, repo, tmp_path / "cache", test_ca.ca_file)
    assert str(caught.value) == (
        f"cannot reach the update repository: HTTP 500 for {server.url}metadata/timestamp.json"
    )


async def test_an_unknown_certificate_authority_is_named_as_the_cause(
    server: RepoServer, repo: TufRepo, tmp_path: Path
) -> None:
    with pytest.raises(OtaError) as caught:
        await _latest(server.url, repo, tmp_path / "cache", None)
    message = str(caught.value)
    assert message.startswith(f"cannot reach the update repository: Failed to download {server.url}")
    assert message.endswith(".root.json: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                            "unable to get local issuer certificate (_ssl.c:1006)")  # fmt: skip
