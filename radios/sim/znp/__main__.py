"""`python -m radios.sim.znp --listen HOST:PORT --state FILE`: serve an emulated ZNP stick until stopped.

Prints one line containing `listening` (with the `socket://` URL for `[zigbee] port`) once it serves.
Exit codes: 0 stopped by a signal, 1 runtime failure, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from radios.sim.zigbee_household import default_household, many_devices
from radios.sim.znp.server import StateError, ZnpEmulator


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def _household(text: str) -> int:
    if text == "default":
        return -1
    if text.isdigit() and 0 <= int(text) <= 5000:
        return int(text)
    raise argparse.ArgumentTypeError("expected 'default' or a device count 0..5000")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m radios.sim.znp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 0), metavar="HOST:PORT")
    parser.add_argument("--state", type=Path, metavar="FILE", help="NV and household state (JSON, kept 0600)")
    parser.add_argument(
        "--household", type=_household, default=-1, metavar="default|N", help="which devices are in range"
    )
    parser.add_argument("--debug", action="store_true", help="log every MT frame")
    return parser


async def serve(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    devices = default_household() if args.household < 0 else many_devices(args.household)
    emulator = ZnpEmulator(args.state, household=devices)
    url = await emulator.start(*args.listen)
    print(f"ZNP emulator listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors are one line on stderr."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return asyncio.run(serve(args))
    except (StateError, OSError) as exc:
        print(f"ZNP emulator: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - signal handlers normally catch it
        return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
