"""LAN tokens at their edges (issue 19): limits, owners, id collisions, reload, the cache's write timer."""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub_agent.lan import tokens
from hub_agent.lan.tokens import (
    LAST_USED_INTERVAL,
    MAX_NAME,
    MAX_TOKENS,
    TokenCache,
    TokenLimitReached,
    clean_name,
    create_token,
    hash_token,
    list_tokens,
    load_hash,
    load_hashes,
    parse_token,
    revoke_token,
    set_owner,
    touch_token,
    try_create_token,
    valid_id,
)
from hub_agent.store.db import connect


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(tmp_path / "hub.sqlite3")
    yield connection
    connection.close()


def test_names_at_the_length_limit_and_printable_only() -> None:
    assert clean_name("x" * MAX_NAME) == "x" * MAX_NAME
    assert MAX_NAME == 64
    with pytest.raises(ValueError, match="at most 64 characters, not 65"):
        clean_name("y" * (MAX_NAME + 1))
    assert clean_name(" \u00e9t\u00e9 ") == "\u00e9t\u00e9"
    with pytest.raises(ValueError, match="printable"):
        clean_name("tab\there")
    with pytest.raises(ValueError, match="must not be empty"):
        create_token("  ")


def test_a_created_token_keeps_its_cleaned_name_and_time(conn: sqlite3.Connection) -> None:
    new = create_token("  kitchen tablet ", now=1234.5)(conn)
    assert (new.info.name, new.info.created, new.info.last_used) == ("kitchen tablet", 1234.5, None)
    assert valid_id(new.info.id) and parse_token(new.token) == new.info.id
    assert len(new.token.split(".")[1]) == 43
    before = time.time()
    later = create_token("now")(conn)
    assert before <= later.info.created <= time.time()
    listed = {t.id: t for t in list_tokens(conn)}
    assert listed[new.info.id] == new.info
    assert listed[later.info.id].created == later.info.created
    assert new.info.to_json() == {
        "id": new.info.id,
        "name": "kitchen tablet",
        "created": 1234.5,
        "last_used": None,
        "owner": True,
    }


def test_token_records_are_immutable() -> None:
    info = tokens.TokenInfo("0" * 12, "n", 1.0, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"  # type: ignore[misc]
    new = tokens.NewToken(info, "t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.token = "u"  # type: ignore[misc]
    assert not hasattr(info, "__dict__") and not hasattr(new, "__dict__")


def test_the_first_token_is_the_owner_unless_told_otherwise(conn: sqlite3.Connection) -> None:
    guest = create_token("guest", now=1.0, owner=False)(conn)
    first_owner = create_token("anna", now=2.0)(conn)
    second = create_token("bob", now=3.0)(conn)
    forced = create_token("carl", now=4.0, owner=True)(conn)
    assert (guest.info.owner, first_owner.info.owner, second.info.owner, forced.info.owner) == (
        False,
        True,
        False,
        True,
    )
    assert [t.owner for t in list_tokens(conn)] == [False, True, False, True]
    assert set_owner(second.info.id, True)(conn) is True
    assert set_owner(first_owner.info.id, False)(conn) is True
    assert set_owner("0" * 12, True)(conn) is False
    assert [t.owner for t in list_tokens(conn)] == [False, False, True, True]


def test_the_token_cap_is_exact_and_revoking_makes_room(conn: sqlite3.Connection) -> None:
    made = [create_token(f"t{n}", now=float(n))(conn) for n in range(MAX_TOKENS)]
    assert MAX_TOKENS == 32
    assert try_create_token("one too many")(conn) is None
    with pytest.raises(TokenLimitReached, match="already has 32 tokens"):
        create_token("one too many")(conn)
    assert len(list_tokens(conn)) == MAX_TOKENS
    assert revoke_token(made[5].info.id)(conn) is True
    assert revoke_token(made[5].info.id)(conn) is False
    assert create_token("room again")(conn).info.name == "room again"


def test_an_id_collision_draws_again_and_gives_up_after_eight(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = create_token("first", now=1.0)(conn).info.id
    fresh = iter(f"{n:012x}" for n in range(1, 100))
    draws: list[str] = []

    def colliding_then(collisions: int) -> None:
        sequence = iter([taken] * collisions)

        def token_hex(nbytes: int) -> str:
            assert nbytes == 6
            draws.append(next(sequence, None) or next(fresh))
            return draws[-1]

        monkeypatch.setattr(secrets, "token_hex", token_hex)

    colliding_then(7)
    new = create_token("second", now=2.0)(conn)
    assert new.info.id not in (taken, None) and draws[:7] == [taken] * 7
    draws.clear()
    colliding_then(8)
    with pytest.raises(RuntimeError, match="could not draw an unused token id"):
        create_token("third", now=3.0)(conn)
    assert draws == [taken] * 8
    assert [t.name for t in list_tokens(conn)] == ["first", "second"]


def test_one_token_read_back_by_id(conn: sqlite3.Connection) -> None:
    new = create_token("phone", now=10.0)(conn)
    assert load_hash(new.info.id)(conn) == (hash_token(new.token), "phone", None, True)
    touch_token(new.info.id, 99.5)(conn)
    assert load_hash(new.info.id)(conn) == (hash_token(new.token), "phone", 99.5, True)
    assert load_hashes(conn) == {new.info.id: (hash_token(new.token), "phone", 99.5, True)}
    assert load_hash("0" * 12)(conn) is None
    revoke_token(new.info.id)(conn)
    assert load_hash(new.info.id)(conn) is None and load_hashes(conn) == {}


def test_a_token_the_cli_wrote_is_checked_after_one_store_lookup(conn: sqlite3.Connection) -> None:
    cache = TokenCache()
    new = create_token("cli", now=5.0)(conn)
    assert cache.check(new.token) is None and new.info.id not in cache
    row = load_hash(new.info.id)(conn)
    assert row is not None
    cache.add_row(new.info.id, row)
    assert cache.check(new.token) == new.info.id and len(cache) == 1
    assert (cache.name(new.info.id), cache.is_owner(new.info.id)) == ("cli", True)
    assert cache.name("0" * 12) is None and cache.is_owner("0" * 12) is False


def test_a_token_made_here_is_known_at_once_and_revoked_at_once(conn: sqlite3.Connection) -> None:
    cache = TokenCache()
    new = create_token("here", now=1.0, owner=False)(conn)
    cache.add(new.info, new.token)
    assert cache.check(new.token) == new.info.id
    assert (cache.name(new.info.id), cache.is_owner(new.info.id)) == ("here", False)
    cache.discard(new.info.id)
    assert cache.check(new.token) is None and new.info.id not in cache
    cache.discard(new.info.id)  # twice is fine


def test_last_used_is_due_exactly_each_interval() -> None:
    cache = TokenCache()
    info = tokens.TokenInfo("a" * 12, "n", 0.0, None)
    cache.add(info, "a" * 12 + "." + "s" * 43)
    assert LAST_USED_INTERVAL == 60.0
    assert cache.used(info.id, 59.5) is False  # never written: due one interval after 0
    assert cache.used(info.id, 60.0) is True
    assert cache.used(info.id, 60.0) is False
    assert cache.used(info.id, 119.9) is False
    assert cache.used(info.id, 120.0) is True
    assert cache.used("b" * 12, 1e9) is False


def test_a_stored_last_use_delays_the_next_write() -> None:
    cache = TokenCache()
    cache.add_row("a" * 12, ("h", "n", 1000.0, False))
    cache.add_row("b" * 12, ("h", "n", None, False))
    assert cache.used("a" * 12, 1030.0) is False
    assert cache.used("a" * 12, 1060.0) is True
    assert cache.used("b" * 12, 60.0) is True


def test_a_reload_keeps_write_timers_adds_new_tokens_and_drops_revoked(conn: sqlite3.Connection) -> None:
    kept = create_token("kept", now=1.0)(conn)
    gone = create_token("gone", now=2.0)(conn)
    cache = TokenCache()
    cache.replace(load_hashes(conn))
    assert cache.used(kept.info.id, 500.0) is True  # written at 500 (in memory: due again at 560)
    touch_token(kept.info.id, 100.0)(conn)  # an older value in the store
    revoke_token(gone.info.id)(conn)
    late = create_token("late", now=3.0)(conn)
    touch_token(late.info.id, 700.0)(conn)
    cache.replace(load_hashes(conn))
    assert cache.check(gone.token) is None and cache.check(kept.token) == kept.info.id
    assert cache.check(late.token) == late.info.id and len(cache) == 2
    assert cache.used(kept.info.id, 530.0) is False  # the reload did not reset the timer
    assert cache.used(kept.info.id, 560.0) is True
    assert cache.used(late.info.id, 740.0) is False  # a new row's timer starts at its stored use
    assert cache.used(late.info.id, 760.0) is True
