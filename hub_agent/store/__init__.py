"""The persistent store: SQLite in WAL mode in `data_dir` (see `db.py` for the durability rules)."""

from hub_agent.store.db import Database

STORE_FILE = "hub.sqlite3"

__all__ = ["STORE_FILE", "Database"]
