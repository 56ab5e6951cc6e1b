"""Versioned schema migrations for the store (`PRAGMA user_version` is the applied count).

Append new migrations at the end of MIGRATIONS; never edit or reorder one that has shipped.
A store written by a newer agent (user_version beyond this list) is refused, not guessed at.
"""

from __future__ import annotations

import sqlite3

from hub_core.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: the core tables.
    """
    CREATE TABLE devices (
        id       TEXT PRIMARY KEY,
        protocol TEXT NOT NULL,
        json     TEXT NOT NULL,
        updated  REAL NOT NULL
    );
    CREATE TABLE device_state (
        device    TEXT NOT NULL,
        attribute TEXT NOT NULL,
        value     TEXT NOT NULL,
        ts        REAL NOT NULL,
        PRIMARY KEY (device, attribute)
    ) WITHOUT ROWID;
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE rules (
        id      TEXT PRIMARY KEY,
        json    TEXT NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE rule_runtime (
        rule_id    TEXT PRIMARY KEY,
        last_fired REAL,
        last_error TEXT,
        error_ts   REAL
    );
    CREATE TABLE pending_actions (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id TEXT NOT NULL,
        due     REAL NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX pending_actions_due ON pending_actions (due);
    CREATE TABLE outbox (
        seq   INTEGER PRIMARY KEY,
        kind  TEXT NOT NULL,
        event TEXT NOT NULL,
        ts    REAL NOT NULL
    );
    CREATE TABLE command_results (
        id     TEXT PRIMARY KEY,
        result TEXT NOT NULL,
        ts     REAL NOT NULL
    );
    CREATE TABLE lan_tokens (
        id        TEXT PRIMARY KEY,
        name      TEXT NOT NULL,
        hash      TEXT NOT NULL,
        created   REAL NOT NULL,
        last_used REAL
    );
    """,
    # 2: owner tokens (the only ones that may list and revoke tokens over the LAN). Tokens from
    # before this migration are not owners: any of them may have been minted by a LAN attacker
    # through the old always-open pairing window; the next pairing (or `hub-agent token create`)
    # makes the owner. docs/security.md explains the rule.
    """
    ALTER TABLE lan_tokens ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration the file lacks, each in its own transaction; return the version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise StoreError(f"store schema version {version} is newer than this agent knows ({len(MIGRATIONS)})")
    for number in range(version, len(MIGRATIONS)):
        # executescript commits first, so the DDL and the version bump go in one explicit script.
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
        )
    return len(MIGRATIONS)
