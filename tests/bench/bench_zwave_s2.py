"""Benchmark: the cost of Z-Wave S2 — per-frame encapsulation, and command round trips against the mock.

1. Encapsulation cost per frame (pure, no I/O): `S2Session.seal` + the peer's `open` of a 5-byte
   Door Lock Operation Set on an established SPAN, and the same for S0 (nonce from the node each time).
2. Round trip against zwave-js's MockController (tests/peers/zwave/s2_launcher.mjs): the same lock
   joined once without security and once with S2 Access Control (PIN entered), then `execute()` of
   lock/unlock alternately; the S2 run includes the nonce exchange when a SPAN is (re)established.
Prints p50/p90/p99/max and the RSS, and the S2/plain ratio of the medians. Not a test: nothing asserted.

    .venv/bin/python tests/bench/bench_zwave_s2.py [--frames 20000] [--commands 300]
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

from hub_core.model import Command, DeviceAdded, DeviceId, InclusionUpdate
from hubtest.zwave_events import EventLog
from radios.base import RadioContext
from radios.zwave.security.classes import SecurityClass
from radios.zwave.security.keystore import load_or_create
from radios.zwave.security.primitives import x25519_keypair
from radios.zwave.security.s0 import S0Session
from radios.zwave.security.s2_cc import NonceReport, decode_s2
from radios.zwave.security.s2_encap import S2Session
from radios.zwave.security.secure_radio import SecureZWaveRadio

PAYLOAD = bytes.fromhex("6201ff")  # Door Lock Operation Set, secured


def summary(name: str, samples: list[float], unit: float = 1e3, label: str = "ms") -> str:
    s = sorted(samples)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(len(s) * p))] * unit

    return (
        f"{name:<40} n={len(s):<6} p50={statistics.median(s) * unit:8.3f} {label}"
        f"  p90={pct(0.9):8.3f} {label}  p99={pct(0.99):8.3f} {label}  max={s[-1] * unit:8.3f} {label}"
    )


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def encapsulation(frames: int) -> None:
    keys = {SecurityClass.S2_ACCESS_CONTROL: bytes(range(16))}
    hub = S2Session(keys, home_id=0x12345678, own_node_id=1)
    lock = S2Session(keys, home_id=0x12345678, own_node_id=5)
    hub.set_granted(5, keys)
    lock.set_granted(1, keys)
    report = decode_s2(lock.nonce_report(1))
    assert isinstance(report, NonceReport)
    hub.on_nonce_report(5, report)
    lock.open(1, hub.seal(5, PAYLOAD))  # SPAN established
    seal: list[float] = []
    opened: list[float] = []
    for _ in range(frames):
        t0 = time.perf_counter()
        frame = hub.seal(5, PAYLOAD)
        t1 = time.perf_counter()
        lock.open(1, frame)
        t2 = time.perf_counter()
        seal.append(t1 - t0)
        opened.append(t2 - t1)
    print(summary("S2 seal (encapsulate) per frame", seal, 1e6, "us"))
    print(summary("S2 open (decapsulate) per frame", opened, 1e6, "us"))
    s0_hub, s0_lock = S0Session(bytes(16), own_node_id=1), S0Session(bytes(16), own_node_id=5)
    s0_seal: list[float] = []
    for _ in range(frames):
        s0_hub.on_nonce_report(5, s0_lock.nonce_report(1, 0.0), 0.0)
        t0 = time.perf_counter()
        frame = s0_hub.seal(5, PAYLOAD, 0.0)
        s0_seal.append(time.perf_counter() - t0)
        s0_lock.open(1, frame, 0.0)
    print(summary("S0 seal per frame", s0_seal, 1e6, "us"))


def lock_node(classes: list[int]) -> dict[str, Any]:
    node: dict[str, Any] = json.loads(json.dumps(household_node("lock")))
    if classes:
        node["capabilities"]["commandClasses"].append({"ccId": 0x9F, "version": 1})
        node["capabilities"]["securityClasses"] = classes
    return node


async def round_trips(
    peer: ZWavePeer, keys_file: Path, data: Path, classes: list[int], count: int
) -> list[float]:
    peer.reset([])
    events = EventLog()
    radio = SecureZWaveRadio(
        RadioContext(data, events, state_reader=events.state_of), peer.url, load_or_create(keys_file)
    )
    await radio.start()
    try:
        await peer.include(lock_node(classes))
        await radio.set_inclusion(60)
        if classes:
            await events.wait_for(
                lambda e: isinstance(e, InclusionUpdate) and e.state == "pin_required", timeout=20
            )
            public = x25519_keypair(hashlib.sha256(b"hub-agent mock node 5").digest())[1]
            radio.enter_pin(f"{int.from_bytes(public[:2], 'big'):05d}")
        await events.wait_for(lambda e: isinstance(e, DeviceAdded), timeout=30)
        await radio.set_inclusion(0)
        await radio.settle()
        samples: list[float] = []
        for i in range(count):
            command = Command(DeviceId("zwave-5"), "lock" if i % 2 else "unlock")
            t0 = time.perf_counter()
            await radio.execute(command)
            samples.append(time.perf_counter() - t0)
        await radio.settle()
        return samples
    finally:
        await radio.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--commands", type=int, default=300)
    args = parser.parse_args()
    encapsulation(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        keys_file = Path(tmp) / "zwave-keys.json"
        load_or_create(keys_file)
        peer = ZWavePeer([], launcher=PEER_DIR / "s2_launcher.mjs", args=("--keys", str(keys_file)))
        peer.start()
        try:
            (Path(tmp) / "plain").mkdir()
            (Path(tmp) / "s2").mkdir()
            plain = await round_trips(peer, keys_file, Path(tmp) / "plain", [], args.commands)
            secure = await round_trips(peer, keys_file, Path(tmp) / "s2", [0, 1, 2], args.commands)
        finally:
            peer.stop()
    print(summary("execute() lock/unlock, plain", plain))
    print(summary("execute() lock/unlock, S2 Access Control", secure))
    print(f"S2/plain median ratio: {statistics.median(secure) / statistics.median(plain):.2f}")
    print(f"RSS {rss_mb():.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
