"""`hub-agent token create|list|revoke --config FILE`: LAN API tokens, from a shell on the hub.

Physical access to the hub is the authority here: the command opens the store file directly (SQLite
WAL lets it do that while the agent runs) and then tells the running agent, over its control socket,
to reload its token cache, so a revoked token stops working before this command returns. (A token it
creates works at once even if the agent cannot be told: the server looks unknown ids up in the store.)
Run as root, it first becomes the agent's user (hub_agent.privileges), so the store stays theirs, and
it tightens the store files to 0600 if someone loosened them.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime

from hub_agent import privileges, secretfile
from hub_agent.config import Config, load_config
from hub_agent.lan import control
from hub_agent.lan.tokens import (
    clean_name,
    limit_message,
    list_tokens,
    revoke_token,
    try_create_token,
    valid_id,
)
from hub_agent.store import STORE_FILE
from hub_agent.store.db import connect
from hub_core.errors import HubError

HELP = "create, list or revoke LAN API tokens"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`create [--name N]`, `list [--json]`, `revoke ID`, each with `--config FILE`."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="print a new token (shown once)")
    create.add_argument("--name", default="cli", help="a label for the token, e.g. the phone's name")
    create.add_argument(
        "--owner",
        action="store_true",
        help="make it an owner token (may list and revoke tokens over the LAN); "
        "the first token on a hub is the owner anyway",
    )
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON array for machines")
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", help="the token id shown by `token list`")
    for sub in (create, listing, revoke):
        sub.add_argument("--config", required=True, metavar="FILE", help="the TOML configuration file")


def main(args: argparse.Namespace) -> int:
    """Run one token action."""
    config = load_config(args.config)
    privileges.become_data_owner(config.hub.data_dir)
    if args.action == "create":
        return _create(config, args.name, args.owner)
    if args.action == "list":
        return _list(config, args.json)
    return _revoke(config, args.id)


def _store(config: Config) -> sqlite3.Connection:
    path = config.hub.data_dir / STORE_FILE
    conn = connect(path)
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        secretfile.tighten(part)
    return conn


def _create(config: Config, name: str, owner: bool) -> int:
    try:
        name = clean_name(name)
    except ValueError as exc:
        # clean_name's messages start with "name" (the API's field); say the option instead, once
        print(f"hub-agent token: --{exc}", file=sys.stderr)
        return 2
    conn = _store(config)
    try:
        conn.execute("BEGIN IMMEDIATE")
        new = try_create_token(name, owner=True if owner else None)(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    if new is None:
        print(f"hub-agent token: {limit_message()}", file=sys.stderr)
        return 1
    print(new.token)
    role = "owner token" if new.info.owner else "token"
    print(f"created {role} {new.info.id} ({name}); it is shown only this once", file=sys.stderr)
    _tell_agent(config)
    return 0


def _list(config: Config, as_json: bool) -> int:
    conn = _store(config)
    try:
        tokens = list_tokens(conn)
    finally:
        conn.close()
    if as_json:
        print(json.dumps([t.to_json() for t in tokens], indent=2))
        return 0
    if not tokens:
        print("no tokens (create one with: hub-agent token create --config FILE --name NAME)")
        return 0
    print(f"{'ID':<14}{'CREATED':<22}{'LAST USED':<22}{'OWNER':<7}NAME")
    for token in tokens:
        owner = "yes" if token.owner else "-"
        print(f"{token.id:<14}{_when(token.created):<22}{_when(token.last_used):<22}{owner:<7}{token.name}")
    return 0


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _revoke(config: Config, token_id: str) -> int:
    if not valid_id(token_id):
        print(
            f"hub-agent token: {token_id!r} is not a token id (12 hex digits, see `token list`)",
            file=sys.stderr,
        )
        return 2
    conn = _store(config)
    try:
        conn.execute("BEGIN IMMEDIATE")
        removed = revoke_token(token_id)(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()
    if not removed:
        print(f"hub-agent token: no token {token_id!r}", file=sys.stderr)
        return 1
    running = _tell_agent(config)
    print(f"revoked token {token_id}" + (" (the running agent dropped it)" if running else ""))
    return 0


def _tell_agent(config: Config) -> bool:
    """Ask the running agent to reload its tokens; False if it is not running."""
    if config.lan is None:
        return False
    try:
        control.call(control.socket_path(config.hub.data_dir), control.TokensChanged())
    except control.AgentNotRunning:
        return False
    except HubError as exc:
        # The change is on disk; the agent also re-reads tokens every 30 s.
        print(f"hub-agent token: warning: could not tell the agent: {exc}", file=sys.stderr)
        return False
    return True
