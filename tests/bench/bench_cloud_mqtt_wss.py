"""Benchmark: the cloud link over MQTT 5 on wss:// (through tests/cloud/wsbridge.py) vs mqtts://.

Run by hand: `.venv/bin/python tests/bench/bench_cloud_mqtt_wss.py [--commands N] [--events N]`.
Prints figures; asserts nothing. The same agent core, broker and cloud client as bench_cloud_mqtt.py's
single-hub part, once straight to mosquitto's TLS listener and once through the TLS WebSocket bridge
(a Python relay: its own TLS termination and re-encryption are part of the wss figures, so they are an
upper bound for the hub's WebSocket framing, not a figure for a production gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cloud"))
sys.path.insert(0, str(HERE))

from bench_cloud_mqtt import one_hub  # noqa: E402
from mosquitto import Broker, broker_for, client_identity  # noqa: E402
from test_cloud_harness import pki_for  # noqa: E402
from wsbridge import bridge_for  # noqa: E402


class _ViaBridge:
    """The broker as the bench sees it: the cloud on the TLS listener, the hub at the bridge's URL."""

    def __init__(self, broker: Broker, url: str) -> None:
        self.port = broker.port
        self.url = url


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        paths = pki_for(tmp)
        async with broker_for(paths, tmp / "broker") as broker:
            print("== mqtts:// (straight to mosquitto)")
            (tmp / "a").mkdir()
            await one_hub(tmp / "a", paths, broker, args.commands, args.events)
            print("== wss:// (through the WebSocket bridge)")
            (tmp / "b").mkdir()
            async with bridge_for(paths, broker, lambda cn: client_identity(paths, cn)) as bridge:
                await one_hub(tmp / "b", paths, _ViaBridge(broker, bridge.url), args.commands, args.events)  # type: ignore[arg-type]
        print(f"bench process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
