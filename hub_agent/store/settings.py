"""Small named values in the store (`kv` table), JSON-encoded: hub id, boot counters, radio caches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any


def put_setting(key: str, value: Any) -> Callable[[sqlite3.Connection], None]:
    """A store write that sets `key` to the JSON encoding of `value`."""
    text = json.dumps(value, separators=(",", ":"))

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, text),
        )

    return write


def get_setting(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    """The decoded value of `key`, or `default` if it is not set."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return default if row is None else json.loads(row[0])
