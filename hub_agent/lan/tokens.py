"""LAN API tokens: format, hashing, the `lan_tokens` table and the in-memory cache the server checks.

Rules of this file: a token is `<id>.<secret>` where `id` is public (listed, used to revoke) and
`secret` is 32 random bytes; only SHA-256 of the whole token is stored (tokens are high-entropy, so a
plain hash is enough; no salt or slow KDF is needed). Checking a token looks its id up and compares
hashes with `hmac.compare_digest`. Store functions take a `sqlite3.Connection`, so the CLI (its own
connection to the WAL file) and the server (the store's writer thread) share them.

Owner tokens (18.1): only an owner may list or revoke tokens over the LAN. A new token is the owner
when no owner exists yet (the first pairing, or the first `hub-agent token create`); the CLI can also
ask for one. At most MAX_TOKENS tokens exist, so a leaked pairing code cannot fill the table.
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
#: Tokens the hub keeps at most (a household's phones, tablets and scripts fit many times over).
MAX_TOKENS = 32


class TokenLimitReached(ValueError):
    """The hub already has MAX_TOKENS tokens; one must be revoked first."""


#: A stored token as the cache sees it: (hash, name, last_used, owner).
TokenRow = tuple[str, str, float | None, bool]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """One stored token, without its secret."""

    id: str
    name: str
    created: float
    last_used: float | None
    owner: bool = False

    def to_json(self) -> dict[str, object]:
        """`{"id", "name", "created", "last_used", "owner"}` (times as POSIX seconds)."""
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "last_used": self.last_used,
            "owner": self.owner,
        }


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


def create_token(
    name: str, now: float | None = None, *, owner: bool | None = None
) -> Callable[[sqlite3.Connection], NewToken]:
    """A store write that makes and records a new token named `name`.

    `owner=None` makes it the owner only if no owner exists yet; TokenLimitReached at MAX_TOKENS.
    """
    attempt = try_create_token(name, now, owner=owner)

    def write(conn: sqlite3.Connection) -> NewToken:
        new = attempt(conn)
        if new is None:
            raise TokenLimitReached(limit_message())
        return new

    return write


def limit_message() -> str:
    """What to say when the hub has MAX_TOKENS tokens."""
    return (
        f"the hub already has {MAX_TOKENS} tokens, the limit; revoke one first (hub-agent token list/revoke)"
    )


def try_create_token(
    name: str, now: float | None = None, *, owner: bool | None = None
) -> Callable[[sqlite3.Connection], NewToken | None]:
    """Like create_token, but the write returns None at MAX_TOKENS (the store thread keeps no types)."""
    name = clean_name(name)
    created = time.time() if now is None else now

    def write(conn: sqlite3.Connection) -> NewToken | None:
        (count,) = conn.execute("SELECT count(*) FROM lan_tokens").fetchone()
        if count >= MAX_TOKENS:
            return None
        is_owner = owner
        if is_owner is None:
            is_owner = conn.execute("SELECT 1 FROM lan_tokens WHERE owner = 1 LIMIT 1").fetchone() is None
        for _ in range(8):
            token_id, token = _new_secret()
            try:
                conn.execute(
                    "INSERT INTO lan_tokens (id, name, hash, created, last_used, owner)"
                    " VALUES (?, ?, ?, ?, NULL, ?)",
                    (token_id, name, hash_token(token), created, int(is_owner)),
                )
            except sqlite3.IntegrityError:
                continue  # an id collision (48 random bits): draw again
            return NewToken(TokenInfo(token_id, name, created, None, is_owner), token)
        raise RuntimeError("could not draw an unused token id")

    return write


def list_tokens(conn: sqlite3.Connection) -> list[TokenInfo]:
    """Every stored token, oldest first."""
    rows = conn.execute("SELECT id, name, created, last_used, owner FROM lan_tokens ORDER BY created, id")
    return [
        TokenInfo(str(i), str(n), float(c), None if u is None else float(u), bool(o))
        for i, n, c, u, o in rows
    ]


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


def set_owner(token_id: str, owner: bool) -> Callable[[sqlite3.Connection], bool]:
    """A store write that makes a token an owner (or not); False if there is no such token."""

    def write(conn: sqlite3.Connection) -> bool:
        return (
            conn.execute("UPDATE lan_tokens SET owner = ? WHERE id = ?", (int(owner), token_id)).rowcount > 0
        )

    return write


def load_hashes(conn: sqlite3.Connection) -> dict[str, TokenRow]:
    """id -> (hash, name, last_used, owner) for every stored token."""
    rows = conn.execute("SELECT id, hash, name, last_used, owner FROM lan_tokens")
    return {str(i): (str(h), str(n), None if u is None else float(u), bool(o)) for i, h, n, u, o in rows}


def load_hash(token_id: str) -> Callable[[sqlite3.Connection], TokenRow | None]:
    """A store read of one token's row (a primary-key lookup), None if there is none."""

    def read(conn: sqlite3.Connection) -> TokenRow | None:
        row = conn.execute(
            "SELECT hash, name, last_used, owner FROM lan_tokens WHERE id = ?", (token_id,)
        ).fetchone()
        if row is None:
            return None
        hash_, name, used, owner = row
        return (str(hash_), str(name), None if used is None else float(used), bool(owner))

    return read


# --- the server's cache ---------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    hash: str
    name: str
    last_used: float | None
    last_written: float
    owner: bool = False


class TokenCache:
    """The server's copy of the token hashes, so checking a request never touches the disk."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token_id: object) -> bool:
        return token_id in self._entries

    def replace(self, rows: dict[str, TokenRow]) -> None:
        """Take the store's current tokens (after a reload); revoked ones disappear."""
        old = self._entries
        self._entries = {
            token_id: _Entry(
                hash_,
                name,
                max(used or 0.0, old[token_id].last_used or 0.0) if token_id in old else used,
                old[token_id].last_written if token_id in old else (used or 0.0),
                owner,
            )
            for token_id, (hash_, name, used, owner) in rows.items()
        }

    def add(self, info: TokenInfo, token: str) -> None:
        """Remember a token this process just made."""
        self._entries[info.id] = _Entry(hash_token(token), info.name, None, 0.0, info.owner)

    def add_row(self, token_id: str, row: TokenRow) -> None:
        """Remember one token read from the store (a cache miss that the store could answer)."""
        hash_, name, used, owner = row
        self._entries[token_id] = _Entry(hash_, name, used, used or 0.0, owner)

    def is_owner(self, token_id: str) -> bool:
        """Whether a cached token is an owner token."""
        entry = self._entries.get(token_id)
        return entry is not None and entry.owner

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
