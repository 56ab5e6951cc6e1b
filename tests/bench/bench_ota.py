"""Benchmark: download + verify + install of a 50 MB update over loopback HTTPS, RSS, bytes written.

The real pieces: a TUF repository (python-tuf Metadata API) served over HTTPS on 127.0.0.1 with a test
CA (tests/ota/https_server.py, streaming from disk), ngclient metadata refresh, the resumable downloader
(sha256 while streaming), the dir backend's install (move into the inactive slot + re-hash of the slot).
Each run starts from an empty download folder. Prints p50/p90/p99/max of each phase and of the whole,
MB/s, RSS before/peak (sampled every 20 ms), and bytes written (write syscalls, /proc/self/io wchar) per
installed byte, for the dir backend moving the bundle (same filesystem) and copying it (another one).
Asserts nothing.

Run: `.venv/bin/python tests/bench/bench_ota.py [--size-mb 50] [--runs 5]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))


def rss_mb() -> float:
    """Current resident set size in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wchar() -> int:
    """Bytes this process passed to write-like syscalls so far."""
    with open("/proc/self/io", encoding="ascii") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def figures(name: str, samples: list[float], unit: str = "s") -> None:
    """p50/p90/p99/max."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    print(
        f"{name:<37} n={len(samples):<3} p50={statistics.median(ordered):8.3f} {unit}"
        f"  p90={pct(0.9):8.3f} {unit}"
        f"  p99={pct(0.99):8.3f} {unit}  max={ordered[-1]:8.3f} {unit}"
    )


async def main(size_mb: int, runs: int) -> None:
    from ota.https_server import RepoServer, UpdateCA
    from ota.tufrepo import TufRepo
    from tuf.api.metadata import TargetFile

    from hub_agent.ota.dirslots import DirSlots
    from hub_agent.ota.download import Downloader
    from hub_agent.ota.https import VerifiedFetcher, ssl_context
    from hub_agent.ota.metadata import UpdateRepository

    sampling = True
    peak = 0.0

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.02)

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir="/dev/shm") as other_fs:
        folder = Path(tmp)
        repo = TufRepo(folder / "repo")
        block = bytes(range(256)) * 4096
        target = repo.targets_dir / "hub-1.2.0.bundle"
        with target.open("wb") as out:  # written in blocks: the bench process never holds the bundle
            for _ in range(size_mb):
                out.write(block)
        info = TargetFile.from_file("hub-1.2.0.bundle", str(target), ["sha256"])
        info.unrecognized_fields["custom"] = {"version": "1.2.0"}
        repo.targets.signed.targets[info.path] = info
        repo.publish()
        ca = UpdateCA(folder / "pki")
        server = RepoServer(repo.folder, ca)
        await server.start()
        base = rss_mb()
        peak = base
        sampler = asyncio.get_running_loop().create_task(sample())
        context = ssl_context(ca.ca_file)
        phases: dict[str, list[float]] = {
            "check (TUF refresh)": [],
            "download + sha256": [],
            "install": [],
            "total": [],
        }
        throughput: list[float] = []
        written: dict[str, list[float]] = {"move": [], "copy": []}
        try:
            for run in range(runs):
                mode = "move" if run % 2 == 0 else "copy"
                work = folder / f"run{run}"
                downloads = work / "downloads"
                slots_dir = work / "slots" if mode == "move" else Path(other_fs) / f"slots{run}"
                t0 = time.perf_counter()
                fetcher = VerifiedFetcher(context)
                offer = await asyncio.to_thread(
                    UpdateRepository(server.url, repo.root_bytes(), work / "tuf", fetcher).latest
                )
                fetcher.close()
                assert offer is not None
                t1 = time.perf_counter()
                w0 = wchar()
                path = await Downloader(downloads, context).fetch(offer, lambda done, total: None)
                t2 = time.perf_counter()
                slots = DirSlots(slots_dir, lambda code: None)
                slots.boot()
                w1 = wchar()
                await slots.install(path, offer.version, dict(offer.hashes)["sha256"], lambda p: None)
                t3 = time.perf_counter()
                w2 = wchar()
                # Download bytes plus the slot write, minus the few bytes of state files (boot.json).
                written[mode].append(((w1 - w0) + (w2 - w1)) / offer.length)
                phases["check (TUF refresh)"].append(t1 - t0)
                phases["download + sha256"].append(t2 - t1)
                phases["install"].append(t3 - t2)
                phases["total"].append(t3 - t0)
                throughput.append(offer.length / (t3 - t0) / 1e6)
                for leftover in (slots_dir / "A.img", slots_dir / "B.img"):
                    leftover.unlink(missing_ok=True)
        finally:
            sampling = False
            await sampler
            await server.close()
    print(f"bundle {size_mb} MiB over loopback HTTPS (TLS 1.3, test CA), {runs} runs, dir backend")
    for name, samples in phases.items():
        figures(name, samples)
    figures("throughput (download+verify+inst.)", throughput, "MB/s")
    for mode, ratios in written.items():
        if ratios:
            print(f"bytes written per installed byte ({mode} into slot): {statistics.mean(ratios):.3f}")
    print(
        f"RSS before {base:.1f} MiB, peak {peak:.1f} MiB (+{peak - base:.1f} MiB for a {size_mb} MiB bundle)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.size_mb, args.runs))
