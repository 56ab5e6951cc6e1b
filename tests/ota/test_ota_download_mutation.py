"""The downloader at its limits (issue 19), against the real HTTPS repository server (TLS verified).

Attempt budget to the last connection, restart of an over-long partial file, redirects, a CDN resuming at
the wrong offset, old downloads cleared, the fsync cadence and the power-cut point half-way through.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from hub_agent.ota.download import Downloader, bundle_path, verify_file
from hub_agent.ota.errors import OtaError, UntrustedUpdate
from hub_agent.ota.https import VerifiedFetcher, ssl_context
from hub_agent.ota.metadata import Offer, UpdateRepository
from hub_agent.ota.versions import parse_version
from hub_core.backoff import Backoff
from ota.https_server import Faults, RepoServer, UpdateCA
from ota.tufrepo import TufRepo, sha256

# A hang in a mutated retry loop must end the run, not wait for a worker thread forever.
pytestmark = pytest.mark.timeout(30, method="thread")

ROOT = Path(__file__).resolve().parents[2]
DATA = bytes(range(251)) * 4177  # ~1 MiB, not a multiple of any chunk size
NAME = "hub-1.3.0.bundle"
TARGET = f"targets/{NAME}"
#: The documented attempt budget (hub_agent.ota.download.ATTEMPTS), spelled out so a change is noticed.
ATTEMPTS = 6
#: The documented fsync cadence of the partial file (download.SYNC_EVERY).
SYNC_EVERY = 8 * 1024 * 1024


async def _offer(server: RepoServer, repo: TufRepo, ca: UpdateCA, cache: Path, data: bytes = DATA) -> Offer:
    repo.add_target(NAME, data, "1.3.0")
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
    return Downloader(folder, ssl_context(ca.ca_file), Backoff(base=0.001, cap=0.001))


def _ranges(server: RepoServer) -> list[str | None]:
    return [r for p, r in server.requests if p == TARGET]


async def test_a_download_needing_every_attempt_completes_resuming_each_time(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[TARGET] = Faults(drop_after=100_000, drops=ATTEMPTS - 1)
    progress: list[tuple[int, int]] = []
    downloader = _downloader(tmp_path / "dl", test_ca)
    path = await downloader.fetch(offer, lambda d, t: progress.append((d, t)))
    assert path.read_bytes() == DATA
    assert _ranges(server) == [None] + [f"bytes={100_000 * n}-" for n in range(1, ATTEMPTS)]
    done = [d for d, _ in progress]
    assert done == sorted(done) and done[-1] == len(DATA)
    assert {t for _, t in progress} == {len(DATA)}
    assert min(d for d in done if d > 100_000) > 100_000  # progress goes on from the resumed offset
    # The next download by the same downloader has the whole budget again.
    path.unlink()
    server.faults[TARGET] = Faults(drop_after=100_000, drops=ATTEMPTS - 1)
    assert (await downloader.fetch(offer, lambda d, t: None)).read_bytes() == DATA


async def test_the_download_gives_up_after_exactly_the_attempt_budget(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[TARGET] = Faults(drop_after=50_000, drops=ATTEMPTS + 5)
    with pytest.raises(OtaError, match=r"download of 1\.3\.0 failed: ") as caught:
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert not isinstance(caught.value, UntrustedUpdate)
    reason = str(caught.value).split("failed: ", 1)[1]
    assert "payload is not completed" in reason  # the cause's own words, not just its type
    assert len(_ranges(server)) == ATTEMPTS
    # What was fetched stays as the partial file: the next check resumes from it.
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    assert part.stat().st_size == 50_000 * ATTEMPTS
    server.faults.clear()
    assert (await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)).read_bytes() == DATA
    assert _ranges(server)[-1] == f"bytes={50_000 * ATTEMPTS}-"


async def test_without_a_backoff_given_the_default_one_is_used(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    downloader = Downloader(tmp_path / "dl", ssl_context(test_ca.ca_file))
    assert (await downloader.fetch(offer, lambda d, t: None)).read_bytes() == DATA
    # The documented default: retries start within 0.5 s and are never more than 10 s apart.
    ceilings = []
    for _ in range(7):
        ceilings.append(downloader.backoff.ceiling())
        downloader.backoff.next_delay()
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_a_verified_bundle_is_reused_and_its_path_returned(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    first = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    progress: list[tuple[int, int]] = []
    again = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: progress.append((d, t)))
    assert again == first == bundle_path(tmp_path / "dl", offer)
    assert progress == [(len(DATA), len(DATA))]
    assert len(_ranges(server)) == 1


async def test_a_stored_bundle_that_no_longer_verifies_is_downloaded_again(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    final = bundle_path(tmp_path / "dl", offer)
    final.parent.mkdir(parents=True)
    final.write_bytes(DATA[:-1] + b"\x00")  # bit rot on the data partition
    assert (await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)).read_bytes() == DATA
    assert _ranges(server) == [None]


async def test_a_partial_file_longer_than_the_offer_restarts_from_zero(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA + b"junk")
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.read_bytes() == DATA
    assert _ranges(server) == [None]
    # Dropped even when the server fails this time.
    path.unlink()
    part.write_bytes(DATA + b"junk")
    server.faults[TARGET] = Faults(status=503)
    with pytest.raises(OtaError, match="HTTP 503"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert not part.exists()


async def test_a_complete_partial_file_is_verified_without_a_request(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA)  # the power cut came between the last byte and the rename
    assert (await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)).read_bytes() == DATA
    assert _ranges(server) == []


async def test_a_complete_but_corrupt_partial_file_is_refused_and_deleted(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(bytes(len(DATA)))  # the right length, the wrong bytes
    with pytest.raises(UntrustedUpdate, match="sha256 does not match"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert list((tmp_path / "dl").iterdir()) == []
    assert _ranges(server) == []


async def test_the_bundle_is_named_by_its_sha256_in_a_private_folder(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    folder = tmp_path / "data" / "ota" / "downloads"  # created with its parents
    path = await _downloader(folder, test_ca).fetch(offer, lambda d, t: None)
    assert path == folder / f"{dict(offer.hashes)['sha256']}.bundle"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_verify_file_names_a_length_mismatch(tmp_path: Path) -> None:
    offer = Offer(parse_version("1.3.0"), NAME, "https://h/" + NAME, 4, (("sha256", sha256(b"abcd")),))
    path = tmp_path / "bundle"
    path.write_bytes(b"abcd")
    verify_file(path, offer)
    path.write_bytes(b"abc")
    with pytest.raises(UntrustedUpdate, match="3 bytes where the metadata says 4"):
        verify_file(path, offer)
    path.write_bytes(b"abce")
    with pytest.raises(UntrustedUpdate, match="sha256 does not match"):
        verify_file(path, offer)


async def test_a_few_bytes_too_many_are_refused_before_they_are_written(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    server.faults[TARGET] = Faults(extra=b"0123456789")
    with pytest.raises(UntrustedUpdate, match="sent more than the"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    assert part.stat().st_size < len(DATA)


async def test_a_redirect_is_not_followed(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    (repo.targets_dir / "mirror.bundle").write_bytes(DATA)
    server.faults[TARGET] = Faults(status=302, location=f"{server.url}targets/mirror.bundle")
    with pytest.raises(OtaError, match="HTTP 302"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert [p for p, _ in server.requests if p.startswith("targets/")] == [TARGET]


async def test_a_server_resuming_at_another_offset_is_refused(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:300_000])
    server.faults[TARGET] = Faults(shift=1000)
    with pytest.raises(OtaError, match="resumed at the wrong offset"):
        await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert part.read_bytes() == DATA[:300_000]  # nothing from the wrong offset was written
    server.faults.clear()
    assert (await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)).read_bytes() == DATA


async def test_older_downloads_are_removed_and_other_files_kept(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    folder = tmp_path / "dl"
    folder.mkdir()
    for name in ("0" * 64 + ".bundle", "1" * 64 + ".part", "notes.txt", "state.json"):
        (folder / name).write_bytes(b"old")
    path = await _downloader(folder, test_ca).fetch(offer, lambda d, t: None)
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, "notes.txt", "state.json"])


def _fsyncs_of(monkeypatch: pytest.MonkeyPatch, suffix: str) -> list[str]:
    """Spy on os.fsync (the OS edge): the real call still happens; the paths of `suffix` files are listed."""
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.endswith(suffix):
            synced.append(target)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


@pytest.mark.parametrize(
    ("size", "syncs"), [(len(DATA), 1), (SYNC_EVERY - 1, 1), (SYNC_EVERY, 2), (SYNC_EVERY + len(DATA), 2)]
)
async def test_the_partial_file_is_synced_every_8_mib_and_at_the_end(
    server: RepoServer,
    repo: TufRepo,
    test_ca: UpdateCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    syncs: int,
) -> None:
    data = (DATA * (size // len(DATA) + 1))[:size]
    offer = await _offer(server, repo, test_ca, tmp_path / "cache", data)
    synced = _fsyncs_of(monkeypatch, ".part")
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.stat().st_size == size
    assert len(synced) == syncs


_CLIENT = """
import asyncio, json, sys
from pathlib import Path
from hub_agent.ota.download import Downloader
from hub_agent.ota.https import ssl_context
from hub_agent.ota.metadata import Offer
from hub_agent.ota.versions import parse_version
from hub_core.backoff import Backoff
a = json.loads(sys.argv[1])
offer = Offer(parse_version(a["version"]), a["path"], a["url"], a["length"], tuple(map(tuple, a["hashes"])))
downloader = Downloader(Path(a["folder"]), ssl_context(Path(a["ca"])), Backoff(base=0.001, cap=0.001))
asyncio.run(downloader.fetch(offer, lambda d, t: None))
"""


async def test_a_power_cut_half_way_leaves_at_least_half_to_resume_from(
    server: RepoServer, repo: TufRepo, test_ca: UpdateCA, tmp_path: Path
) -> None:
    offer = await _offer(server, repo, test_ca, tmp_path / "cache")
    args = {
        "version": str(offer.version),
        "path": offer.path,
        "url": offer.url,
        "length": offer.length,
        "hashes": offer.hashes,
        "folder": str(tmp_path / "dl"),
        "ca": str(test_ca.ca_file),
    }
    env = {**os.environ, "HUB_AGENT_OTA_KILL_AT": "download:partial", "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CLIENT, json.dumps(args), cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == -signal.SIGKILL, err.decode()
    part = bundle_path(tmp_path / "dl", offer).with_suffix(".part")
    kept = part.stat().st_size
    assert len(DATA) // 2 <= kept < len(DATA)
    assert part.read_bytes() == DATA[:kept]
    path = await _downloader(tmp_path / "dl", test_ca).fetch(offer, lambda d, t: None)
    assert path.read_bytes() == DATA
    assert _ranges(server)[-1] == f"bytes={kept}-"
