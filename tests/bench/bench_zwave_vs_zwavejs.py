"""SendData round trip through our Z-Wave stack and through zwave-js's own Driver, same mock, same run.

    .venv/bin/python tests/bench/bench_zwave_vs_zwavejs.py [--count N]

One zwave-js MockController (tests/peers/zwave/launcher.mjs) with one listening binary switch whose
simulated radio delay is 0, so what is measured is the host stacks and the mock, not a fake air
time. First our stack (radios.zwave.driver.Driver over socket://) sends N SendData requests, each a
Binary Switch Set, and times request -> callback (transmit report); then zwave-js's Driver
(tests/peers/zwave/bench_zwavejs.mjs over tcp://) does the same with SendDataRequest +
driver.sendMessage. Both print p50/p99/max in ms and the ratio ours / zwave-js. Not a test: it
asserts nothing and never gates CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "zwave"))

from zwave_peer import PEER_DIR, ZWavePeer, check_installed, household_node  # noqa: E402

from radios.zwave import cc  # noqa: E402
from radios.zwave.driver import Driver  # noqa: E402
from radios.zwave.messages import SendDataCallback, SendDataRequest  # noqa: E402
from radios.zwave.messages.transport import TransmitStatus  # noqa: E402

NODE = 2
WARMUP = 50


def summary(name: str, ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(ms)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"{name:<28} n={len(ms):5d}  p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  max {ordered[-1]:7.3f} ms")
    return p50, p99, ordered[-1]


async def ours(url: str, count: int) -> list[float]:
    driver = Driver(url, on_message=lambda message: None)
    await driver.open()
    try:

        async def once(on: bool) -> float:
            data = cc.BinarySwitchSet(0xFF if on else 0x00).to_bytes()
            started = time.perf_counter()
            result = await driver.request(SendDataRequest(NODE, data))
            elapsed = (time.perf_counter() - started) * 1000
            callback = result.callback
            if not isinstance(callback, SendDataCallback) or callback.status != TransmitStatus.OK:
                raise RuntimeError(f"SendData failed: {callback!r}")
            return elapsed

        for i in range(WARMUP):
            await once(i % 2 == 1)
        return [await once(i % 2 == 1) for i in range(count)]
    finally:
        await driver.close()


def theirs(port: int, count: int) -> list[float]:
    node = check_installed()
    result = subprocess.run(
        [node, str(PEER_DIR / "bench_zwavejs.mjs"), f"tcp://127.0.0.1:{port}", str(count), str(NODE)],
        cwd=PEER_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"zwave-js benchmark failed ({result.returncode}):\n{result.stderr}")
    ms: list[float] = json.loads(result.stdout.strip().splitlines()[-1])["ms"]
    return ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="round trips per stack (default 2000)")
    args = parser.parse_args()
    switch = household_node("switch")
    switch["capabilities"]["txDelay"] = 0  # no simulated air time: measure the stacks
    with ZWavePeer([switch]) as peer:
        mine = asyncio.run(ours(peer.url, args.count))
        # The launcher serves one client at a time; ours has disconnected, zwave-js connects next.
        asyncio.run(peer.wait_listening())
        reference = theirs(peer.port, args.count)
    print("SendData round trip (request -> callback) against zwave-js's MockController, loopback TCP")
    p50, p99, top = summary("ours (Python, radios.zwave)", mine)
    r50, r99, rtop = summary("zwave-js 15.29 Driver", reference)
    ratios = f"p50 {p50 / r50:7.2f}x    p99 {p99 / r99:7.2f}x    max {top / rtop:7.2f}x"
    print(f"{'ratio ours / zwave-js':<28}          {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
