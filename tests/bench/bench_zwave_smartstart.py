"""Benchmark: SmartStart — how long a provisioned node takes to join, and what the frame parsing costs.

1. Parsing (pure, no I/O): `parse_frame` of a SmartStart inclusion request (ApplicationUpdate 0x85,
   told apart by its first payload byte) and of an ApplicationCommandHandler frame (the hot path, which
   now passes the variant check too).
2. Joins against zwave-js's MockController with the SmartStart model (tests/peers/zwave/s2_launcher.mjs
   + smartstart_mock.mjs): a provisioned S2 Access Control lock announces itself; time from the
   announcement leaving the mock to its DeviceAdded (AddNode SmartStart-DSK, S2 bootstrapping with the
   entry's DSK, interview), and until the stick listens again. Each join on a fresh mock network.
Prints p50/p90/p99/max and the RSS. Not a test: nothing asserted.

    .venv/bin/python tests/bench/bench_zwave_smartstart.py [--frames 100000] [--joins 20]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zwave"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zwave_peer import PEER_DIR, ZWavePeer, household_node

from hub_core.model import DeviceAdded
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.zwave.frame import Frame, FrameType
from radios.zwave.messages import FunctionId, SmartStartRequest, parse_frame
from radios.zwave.security.classes import dsk_string
from radios.zwave.security.keystore import load_or_create
from radios.zwave.security.primitives import x25519_keypair
from radios.zwave.security.secure_radio import SecureZWaveRadio


def summary(name: str, samples: list[float], unit: float = 1e3, label: str = "ms") -> str:
    s = sorted(samples)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(len(s) * p))] * unit

    return (
        f"{name:<44} n={len(s):<6} p50={statistics.median(s) * unit:8.3f} {label}"
        f"  p90={pct(0.9):8.3f} {label}  p99={pct(0.99):8.3f} {label}  max={s[-1] * unit:8.3f} {label}"
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parsing(frames: int) -> None:
    request = Frame(
        FrameType.REQUEST, FunctionId.APPLICATION_UPDATE, bytes.fromhex("850000ed778038034440039f6272")
    )
    command = Frame(FrameType.REQUEST, FunctionId.APPLICATION_COMMAND_HANDLER, bytes.fromhex("000503250300"))
    assert isinstance(parse_frame(request), SmartStartRequest)
    for name, frame in (
        ("parse SmartStart request (0x49, 0x85)", request),
        ("parse ApplicationCommandHandler", command),
    ):
        samples: list[float] = []
        for _ in range(frames):
            t0 = time.perf_counter()
            parse_frame(frame)
            samples.append(time.perf_counter() - t0)
        print(summary(name, samples, 1e6, "us"))


def lock(node_id: int) -> dict[str, Any]:
    node: dict[str, Any] = json.loads(json.dumps(household_node("lock")))
    node["id"] = node_id
    node["capabilities"]["commandClasses"].append({"ccId": 0x9F, "version": 1})
    node["capabilities"]["securityClasses"] = [0, 1, 2]
    return node


async def join(peer: ZWavePeer, keys_file: Path, data: Path) -> tuple[float, float]:
    peer.reset([])
    events = EventLog()
    radio = SecureZWaveRadio(
        RadioContext(data, events, state_reader=events.state_of), peer.url, load_or_create(keys_file)
    )
    await radio.start()
    try:
        public = x25519_keypair(hashlib.sha256(b"hub-agent mock node 5").digest())[1]
        await radio.provision(dsk=dsk_string(public[:16]))
        t0 = time.perf_counter()
        answer = await peer.acommand("announce", node=lock(5))
        assert answer["delivered"]
        await events.wait_for(lambda e: isinstance(e, DeviceAdded), timeout=30)
        t1 = time.perf_counter()
        await radio.smart_start.wait_listening(True, 30)
        t2 = time.perf_counter()
        assert radio.security.security_of(5) == "S2_AccessControl"
        await radio.settle()
        await radio.unprovision(dsk_string(public[:16]))
        return t1 - t0, t2 - t0
    finally:
        await radio.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100000)
    parser.add_argument("--joins", type=int, default=20)
    args = parser.parse_args()
    parsing(args.frames)
    added: list[float] = []
    relisten: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = Path(tmp) / "zwave-keys.json"
        load_or_create(keys_file)
        peer = ZWavePeer([], launcher=PEER_DIR / "s2_launcher.mjs", args=("--keys", str(keys_file)))
        peer.start()
        try:
            for i in range(args.joins):
                data = Path(tmp) / f"run{i}"
                data.mkdir()
                a, b = await join(peer, keys_file, data)
                added.append(a)
                relisten.append(b)
        finally:
            peer.stop()
    print(summary("announce -> DeviceAdded (S2 Access Control)", added))
    print(summary("announce -> listening again", relisten))
    print(f"RSS {rss_mb():.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
