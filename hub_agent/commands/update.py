"""`hub-agent update status|check|install [VERSION]|mark-good|trust --repository URL --root FILE`.

Each talks to the running agent over `<data_dir>/ota.sock` (see hub_agent.ota.control). `status` also
works with the agent stopped (it then shows what the state files say). `trust` needs the pairing window
open (press the hub's button, or `hub-agent pair`), the owner's proof of physical access.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hub_agent.config import load_config
from hub_agent.ota import control
from hub_agent.ota.state import StateFile, trust_label
from hub_agent.ota.trustroot import MAX_ROOT
from hub_core.errors import HubError

HELP = "over-the-air updates: status, check, install, mark-good, trust an owner's repository"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The action and its arguments."""
    # --config and --json are accepted before or after the action (`update --config F status` and
    # `update status --config F`), as `token` and `zigbee` take them after theirs.
    parser.add_argument("--config", metavar="FILE", help="the TOML configuration file")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("status", help="the running version, the update on offer, progress and errors")
    actions.add_parser("check", help="ask the repository for an update now")
    install = actions.add_parser("install", help="install VERSION (default: the newest offered), then reboot")
    install.add_argument("version", nargs="?", metavar="VERSION")
    actions.add_parser("mark-good", help="vouch for the running slot now (ends its health window)")
    trust = actions.add_parser("trust", help="trust your own update repository (needs the pairing window)")
    trust.add_argument("--repository", required=True, metavar="URL", help="https://... of the TUF repository")
    trust.add_argument(
        "--root", required=True, metavar="FILE", type=Path, help="its root metadata (root.json)"
    )
    _accept_config_after_the_action(actions)


def _accept_config_after_the_action(actions: Any) -> None:
    for sub in actions.choices.values():
        sub.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help=argparse.SUPPRESS)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    """Run one update action; exit 1 when the agent refuses or is not running."""
    if not args.config:
        print("hub-agent update: error: --config FILE is required", file=sys.stderr)
        return 2
    config = load_config(args.config)
    if config.ota is None:
        raise HubError(f"over-the-air updates are not configured in {args.config} (no [ota] section)")
    path = control.socket_path(config.hub.data_dir)
    request: dict[str, Any] = {"op": args.action.replace("-", "_")}
    if args.action == "install":
        request["version"] = args.version
    elif args.action == "trust":
        if not args.repository.startswith("https://"):
            raise HubError(f"--repository must be an https:// URL, not {args.repository!r}")
        try:
            root = args.root.read_bytes()
        except OSError as exc:
            raise HubError(f"cannot read {args.root}: {exc.strerror}") from None
        if len(root) > MAX_ROOT:
            raise HubError(f"{args.root} is larger than {MAX_ROOT} bytes; not a root metadata file")
        request |= {"repository": args.repository, "root": root.decode("utf-8", errors="replace")}
    try:
        status = control.call(path, request)
    except HubError:
        if args.action != "status":
            raise
        status = _offline(config.hub.data_dir)
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        print(render(status))
    return 0


def _offline(data_dir: Path) -> dict[str, Any]:
    state = StateFile(data_dir).load().to_json()
    return {
        "current": {"version": state["highest"] or "unknown", "slot": None},
        "state": "agent not running",
        "available": None,
        "progress": 0,
        "last_error": state["last_error"],
        "update_trust": trust_label(data_dir),
    }


def render(status: dict[str, Any]) -> str:
    """The status for a person."""
    current = status.get("current") or {}
    available = status.get("available")
    lines = [
        f"running:   {current.get('version')} (slot {current.get('slot') or '?'})",
        f"state:     {status.get('state')} {status.get('progress', 0)}%",
        "available: " + (f"{available['version']} ({available['length']} bytes)" if available else "none"),
        f"trust:     {status.get('update_trust', 'vendor')}",
    ]
    if status.get("last_error"):
        lines.append(f"error:     {status['last_error']}")
    return "\n".join(lines)
