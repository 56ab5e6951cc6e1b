"""The secret-file helper for hub_agent code: it lives in `hub_core.secretfile` so radios (which may
import only hub_core) write their key files the same way; see that module for the rules."""

from __future__ import annotations

from hub_core.secretfile import (
    PRIVATE,
    PUBLIC,
    STALE_AFTER,
    TEMP_PREFIX,
    create_secret,
    fsync_folder,
    read_secret,
    tighten,
    write_atomic,
    write_secret,
)

__all__ = [
    "PRIVATE",
    "PUBLIC",
    "STALE_AFTER",
    "TEMP_PREFIX",
    "create_secret",
    "fsync_folder",
    "read_secret",
    "tighten",
    "write_atomic",
    "write_secret",
]
