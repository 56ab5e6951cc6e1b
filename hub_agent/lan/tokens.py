"""LAN API tokens: format, hashing, the `lan_tokens` table and the in-memory cache the server checks.

Rules of this file: a token is `<id>.<secret>` where `id` is public (listed, used to revoke) and
`secret` is 32 random bytes; only SHA-256 of the whole token is stored (tokens are high-entropy, so a
plain hash is enough; no salt or slow KDF is needed). Checking a token looks its id up and compares
hashes with `hmac.compare_digest`. Store functions take a `sqlite3.Connection`, so the CLI (its own
connection to the WAL file) and the server (the store's writer thread) share them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

ID_BYTES = 6
SECRET_BYTES = 32
MAX_NAME = 64
_TOKEN = re.compile(r"^([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
_ID = re.compile(r"^[0-9a-f]{12}$")
#: last_used is written at most this often per token, so a busy client does not wear the flash.
LAST_USED_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One stored token, without its secret."""

    id: str
    name: str
    created: float
    last_used: float | None

    def to_json(self) -> dict[str, object]:
        """`{"id", "name", "created", "last_used"}` (times as POSIX seconds)."""
        return {"id": self.id, "name": self.name, "created": self.created, "last_used": self.last_used}


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly made token: its public info and the secret string, shown once."""

    info: TokenInfo
    token: str


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_token(token: str) -> str | None:
    """The id part of a well-formed token, or None."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def valid_id(token_id: str) -> bool:
    """Whether `token_id` looks like a token id (12 lowercase hex digits)."""
    return _ID.match(token_id) is not None


def clean_name(name: object) -> str:
    """A token name: printable, 1-64 characters; raise ValueError saying what is wrong."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, not {type(name).__name__}")
    name = name.strip()
    if not name:
        raise ValueError("name must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"name must be at most {MAX_NAME} characters, not {len(name)}")
    if not name.isprintable():
        raise ValueError("name must contain only printable characters")
    return name


def _new_secret() -> tuple[str, str]:
    token_id = secrets.token_hex(ID_BYTES)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=").decode("ascii")
    return token_id, f"{token_id}.{secret}"


# --- store operations (each is a function of a connection) -----------------------------------------


def create_token(name: str, now: float | None = None) -> Callable[[sqlite3.Connection], NewToken]:
    """A store write that makes and records a new token named `name`."""
    name = clean_name(name)
    created = time.time() if now is None else now

    def write(conn: sqlite3.Connection) -> NewToken:
        for _ in range(8):
            token_id, token = _new_secret()
            try:
                conn.execute(
                    "INSERT INTO lan_tokens (id, name, hash, created, last_used) VALUES (?, ?, ?, ?, NULL)",
                    (token_id, name, hash_token(token), created),
                )
            except sqlite3.IntegrityError:
                continue  # an id collision (48 random bits): draw again
            return NewToken(TokenInfo(token_id, name, created, None), token)
        raise RuntimeError("could not draw an unused token id")

    return write


def list_tokens(conn: sqlite3.Connection) -> list[TokenInfo]:
    """Every stored token, oldest first."""
    rows = conn.execute("SELECT id, name, created, last_used FROM lan_tokens ORDER BY created, id")
    return [TokenInfo(str(i), str(n), float(c), None if u is None else float(u)) for i, n, c, u in rows]


def revoke_token(token_id: str) -> Callable[[sqlite3.Connection], bool]:
    """A store write that deletes a token; it returns False if there was none."""

    def write(conn: sqlite3.Connection) -> bool:
        return conn.execute("DELETE FROM lan_tokens WHERE id = ?", (token_id,)).rowcount > 0

    return write


def touch_token(token_id: str, when: float) -> Callable[[sqlite3.Connection], None]:
    """A store write that records when a token was last used."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE lan_tokens SET last_used = ? WHERE id = ?", (when, token_id))

    return write


def load_hashes(conn: sqlite3.Connection) -> dict[str, tuple[str, str, float | None]]:
    """id -> (hash, name, last_used) for every stored token."""
    rows = conn.execute("SELECT id, hash, name, last_used FROM lan_tokens")
    return {str(i): (str(h), str(n), None if u is None else float(u)) for i, h, n, u in rows}


# --- the server's cache ---------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    hash: str
    name: str
    last_used: float | None
    last_written: float


class TokenCache:
    """The server's copy of the token hashes, so checking a request never touches the disk."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token_id: object) -> bool:
        return token_id in self._entries

    def replace(self, rows: dict[str, tuple[str, str, float | None]]) -> None:
        """Take the store's current tokens (after a reload); revoked ones disappear."""
        old = self._entries
        self._entries = {
            token_id: _Entry(
                hash_,
                name,
                max(used or 0.0, old[token_id].last_used or 0.0) if token_id in old else used,
                old[token_id].last_written if token_id in old else (used or 0.0),
            )
            for token_id, (hash_, name, used) in rows.items()
        }

    def add(self, info: TokenInfo, token: str) -> None:
        """Remember a token this process just made."""
        self._entries[info.id] = _Entry(hash_token(token), info.name, None, 0.0)

    def discard(self, token_id: str) -> None:
        """Forget a revoked token at once."""
        self._entries.pop(token_id, None)

    def check(self, token: str) -> str | None:
        """The token's id if it is valid, else None; the hash comparison is constant-time."""
        token_id = parse_token(token)
        presented = hash_token(token)
        entry = self._entries.get(token_id) if token_id is not None else None
        # Compare even when the id is unknown, so timing does not tell ids apart.
        expected = entry.hash if entry is not None else "0" * 64
        if hmac.compare_digest(presented.encode("ascii"), expected.encode("ascii")) and entry is not None:
            return token_id
        return None

    def used(self, token_id: str, now: float) -> bool:
        """Note a use; True when last_used is due to be written to the store."""
        entry = self._entries.get(token_id)
        if entry is None:
            return False
        entry.last_used = now
        if now - entry.last_written >= LAST_USED_INTERVAL:
            entry.last_written = now
            return True
        return False

    def name(self, token_id: str) -> str | None:
        """The name of a cached token."""
        entry = self._entries.get(token_id)
        return None if entry is None else entry.name
