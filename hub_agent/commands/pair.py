"""`hub-agent pair --config FILE [--seconds S]`: the hub's link button, from a shell or a GPIO hook.

It opens the running agent's pairing window (default 60 s) over the control socket in data_dir and
prints the window's one-time code; while it is open, one `POST /api/v1/pair {"code": ...}` gets a
token and the window closes. `--seconds 0` closes the window early. Only someone at the hub (its
user or root) can reach the control socket, so only they see the code (docs/security.md).
"""

from __future__ import annotations

import argparse

from hub_agent.config import load_config
from hub_agent.lan import control
from hub_agent.lan.pairing import DEFAULT_WINDOW, MAX_WINDOW
from hub_core.errors import HubError

HELP = "open the LAN pairing window in the running agent (like pressing the hub's button)"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= MAX_WINDOW:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_WINDOW:g}, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`, `--seconds S`."""
    parser.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")
    parser.add_argument(
        "--seconds",
        type=_seconds,
        default=DEFAULT_WINDOW,
        metavar="S",
        help=f"how long pairing stays open (default {DEFAULT_WINDOW:g}; 0 closes it)",
    )


def main(args: argparse.Namespace) -> int:
    """Open (or close) the pairing window; exit 1 if the agent is not running."""
    config = load_config(args.config)
    if config.lan is None:
        raise HubError(f"the LAN API is disabled in {args.config} (no [lan] section); nothing to pair with")
    reply = control.call(control.socket_path(config.hub.data_dir), control.PairRequest(args.seconds))
    seconds = float(reply.get("seconds", args.seconds))
    if seconds > 0:
        print(f"pairing open for {seconds:g} s: choose 'Pair' in the app or on the web page now")
        print(f"pairing code: {reply.get('code', '')} (one device; the window closes after it pairs)")
    else:
        print("pairing closed")
    return 0
