"""Downloading an offer over HTTPS: resumed after drops and restarts, bounded, hash-verified."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from hub_agent.ota.download import Downloader, bundle_path
from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.https import VerifiedFetcher, ssl_context
from hub_agent.ota.metadata import Offer, UpdateRepository
from hub_core.backoff import Backoff
from ota.https_server import Faults, RepoServer, UpdateCA
from ota.tufrepo import TufRepo

DATA = bytes(range(256)) * 4096  # 1 MiB
NAME = "hub-1.2.0.bundle"


async def _offer(server: RepoServer, repo: TufRepo, ca: UpdateCA, cache: Path) -> Offer:
    repo.add_target(NAME, DATA, "1.2.0")
    repo.publish()
    fetcher = VerifiedFetcher(ssl_context(ca.ca_file), timeout=5)
    try:
        offer = await asyncio.to_thread(
            UpdateRepository(server.url, repo.root_bytes(), cache, fetcher).latest
        )
    finally:
        fetcher.close()
    assert offer is not None
    return offer


def _downloader(folder: Path, ca: UpdateCA) -> Downloader:
    # Zero-length back-off ceiling is not allowed; a tiny one keeps retries immediate in tests.
    return Downloader(folder, ssl_context(ca.ca_file), Backoff(base=0.001, cap=0.001))


async def test_plain_download_verifies_and_reports_progress(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    progress: list[tuple[int, int]] = []
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: progress.append((d, t)))
    assert path == bundle_path(tmp_path / "dl", offer)
    assert path.read_bytes() == DATA
    assert progress[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    # A second fetch reuses the verified bundle without downloading again.
    before = server.bytes_sent
    await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert server.bytes_sent == before


async def test_dropped_connection_resumes_with_range(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[f"targets/{NAME}"] = Faults(drop_after=300_000)
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.read_bytes() == DATA
    ranges = [r for p, r in server.requests if p == f"targets/{NAME}"]
    assert ranges[0] is None
    assert ranges[1] is not None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert server.bytes_sent < 2 * len(DATA)  # resumed, not restarted


async def test_restart_resumes_from_the_partial_file(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:700_000])  # what a power cut left behind
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.read_bytes() == DATA
    assert [r for p, r in server.requests if p == f"targets/{NAME}"] == ["bytes=700000-"]
    assert not part.exists()


async def test_corrupt_partial_file_is_detected_and_deleted(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 700_000)  # zeros where a crash lost the data
    with pytest.raises(UntrustedUpdate, match="sha256 does not match"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert not part.exists()
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.read_bytes() == DATA


async def test_server_ignoring_range_restarts_cleanly(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[f"targets/{NAME}"] = Faults(drop_after=400_000, ignore_range=True)
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == dict(offer.hashes)["sha256"]


async def test_arbitrary_package_tampered_target_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    repo.tamper_target(NAME, bytes(len(DATA)))  # same length, other bytes
    with pytest.raises(UntrustedUpdate, match="does not match the signed metadata"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert list((tmp_path / "dl").iterdir()) == []  # nothing unverified is kept


async def test_endless_data_target_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[f"targets/{NAME}"] = Faults(extra=b"more" * 100_000)
    with pytest.raises(UntrustedUpdate, match="more than"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)


async def test_short_target_refused_after_retries(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    repo.tamper_target(NAME, DATA[:1000])
    with pytest.raises(OtaError, match="fewer bytes than the metadata"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)


async def test_http_error_is_reported(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[f"targets/{NAME}"] = Faults(status=503)
    with pytest.raises(OtaError, match="HTTP 503"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
