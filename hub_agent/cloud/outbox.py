"""The cloud outbox: every event gets a persisted, strictly increasing seq and stays on disk until acked.

Rules of this file: seqs are assigned in the event loop, in bus order, and written through the store's
writer thread; an event is handed to the link only after its row is committed, so a seq the cloud has
seen can never be reused after a crash. Rows are deleted when acknowledged. The table is bounded:
past `limit` rows, telemetry is first coalesced (only the newest reading per device and attribute
is kept), then dropped oldest-first; only if that is not enough are other events dropped, and then a
state_snapshot is owed to the cloud so its view of the state is whole again. Every drop is counted.
Everything that touches the table runs on the writer thread, so `_Shared` is only mutated there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from hub_agent.store import Database
from hub_agent.store.settings import get_setting, put_setting
from hub_core.model import HubEvent, StateChanged

log = logging.getLogger(__name__)

#: Numeric readings that change often; these may be coalesced or dropped under pressure.
TELEMETRY_ATTRIBUTES = frozenset({"temperature", "humidity", "illuminance", "power", "energy", "battery"})
#: kv key holding the outbox's counters that must survive restarts.
STATE_KEY = "cloud.outbox"
#: Shedding brings the table down to this fraction of the limit, so it does not run on every insert.
SHED_TO = 0.9
_TELEMETRY_PREFIX = "t:"
#: SQLite's INTEGER is a signed 64-bit number: no seq may pass this.
MAX_SEQ = 2**63 - 1


def kind_of(event: HubEvent, event_json: dict[str, Any]) -> str:
    """The outbox `kind` column: `t:<device>/<attribute>` for telemetry, else the event type."""
    if isinstance(event, StateChanged) and event.attribute in TELEMETRY_ATTRIBUTES:
        return f"{_TELEMETRY_PREFIX}{event.device}/{event.attribute}"
    return str(event_json["type"])


@dataclass(slots=True)
class _Shared:
    """Counters owned by the writer thread (the event loop only reads them)."""

    count: int = 0
    floor: int = 0  # highest seq ever deleted (acked or shed): next seq must exceed it
    acked: int = 0
    dropped: int = 0
    coalesced: int = 0
    snapshot_needed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "floor": self.floor,
            "acked": self.acked,
            "dropped": self.dropped,
            "coalesced": self.coalesced,
            "snapshot_needed": self.snapshot_needed,
        }


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored event: its seq and its encoded JSON object."""

    seq: int
    event: str


class Outbox:
    """The on-disk queue of events for the cloud, with its seq counter."""

    def __init__(self, db: Database, limit: int) -> None:
        self.db = db
        self.limit = limit
        self.next_seq = 1
        self.committed_seq = 0
        self._shared = _Shared()
        self._changed = asyncio.Event()
        self._acked = asyncio.Event()
        self._ack_wanted = 0
        self._ack_writing = False
        self._loaded = False

    # --- state --------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Rows on disk (acked rows are deleted)."""
        return self._shared.count

    @property
    def acked_seq(self) -> int:
        """The highest seq the cloud acknowledged."""
        return self._shared.acked

    @property
    def dropped(self) -> int:
        """Events dropped (not coalesced) to keep the table under its limit, over the hub's life."""
        return self._shared.dropped

    @property
    def coalesced(self) -> int:
        """Telemetry readings replaced by a newer one for the same attribute."""
        return self._shared.coalesced

    @property
    def snapshot_needed(self) -> bool:
        """True when non-telemetry events were dropped and the cloud needs a state_snapshot."""
        return self._shared.snapshot_needed

    async def load(self) -> None:
        """Read the counters and the highest seq from the store; call once before `add`."""
        shared, top = await self.db.read(self._load)
        self._shared = shared
        self.next_seq = max(top, shared.floor) + 1
        self.committed_seq = self.next_seq - 1
        self._loaded = True
        log.info(
            "cloud outbox: %d unacknowledged events, next seq %d, %d dropped so far",
            shared.count,
            self.next_seq,
            shared.dropped,
        )

    @staticmethod
    def _load(conn: sqlite3.Connection) -> tuple[_Shared, int]:
        saved = get_setting(conn, STATE_KEY, {}) or {}
        count, top = conn.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM outbox").fetchone()
        shared = _Shared(
            count=count,
            floor=int(saved.get("floor", 0)),
            acked=int(saved.get("acked", 0)),
            dropped=int(saved.get("dropped", 0)),
            coalesced=int(saved.get("coalesced", 0)),
            snapshot_needed=bool(saved.get("snapshot_needed", False)),
        )
        return shared, int(top)

    # --- writing ------------------------------------------------------------------------------

    def add(self, events: list[HubEvent]) -> asyncio.Future[None]:
        """Assign seqs to `events` (in order) and queue them for disk; resolves once durable."""
        if not self._loaded:
            raise RuntimeError("Outbox.load() must run before add()")
        if self.next_seq + len(events) > MAX_SEQ:
            # Unreachable in practice (2**63 events); refusing beats an overflow the store cannot hold.
            raise OverflowError(f"cloud outbox seq would pass {MAX_SEQ}")
        rows = []
        for event in events:
            data = event.to_json()
            rows.append(
                (self.next_seq, kind_of(event, data), json.dumps(data, separators=(",", ":")), event.ts)
            )
            self.next_seq += 1
        last = self.next_seq - 1
        shared, limit = self._shared, self.limit

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO outbox (seq, kind, event, ts) VALUES (?, ?, ?, ?)", rows)
            shared.count += len(rows)
            if shared.count > limit:
                _shed(conn, shared, limit)

        future = self.db.submit(write)
        future.add_done_callback(lambda f: self._committed(f, last))
        return future

    def _committed(self, future: asyncio.Future[None], last: int) -> None:
        if future.cancelled() or future.exception() is not None:
            # The rows are not on disk; they are not offered to the cloud either (never sent = not lost
            # to the cloud's view of seqs). The store logs the cause.
            log.error("cloud outbox: events up to seq %d could not be stored", last)
            return
        self.committed_seq = max(self.committed_seq, last)
        self._changed.set()

    def ack(self, seq: int) -> None:
        """The cloud holds every event with seq <= `seq`: forget them (durably, off the hot path).

        At most one ack write is in flight; acks arriving meanwhile are merged into the next one, so
        an ack per event (MQTT's PUBACKs) costs a handful of store transactions, not one each.
        """
        seq = min(seq, self.committed_seq)
        if seq <= max(self._shared.acked, self._ack_wanted):
            return
        self._ack_wanted = seq
        if not self._ack_writing:
            self._write_ack()

    def _write_ack(self) -> None:
        seq, shared = self._ack_wanted, self._shared
        self._ack_writing = True

        def write(conn: sqlite3.Connection) -> None:
            if seq <= shared.acked:
                return
            deleted = conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,)).rowcount
            shared.count -= deleted
            shared.acked = seq
            shared.floor = max(shared.floor, seq)
            put_setting(STATE_KEY, shared.to_json())(conn)

        self.db.submit(write).add_done_callback(self._ack_written)

    def _ack_written(self, future: asyncio.Future[None]) -> None:
        self._ack_writing = False
        if not future.cancelled() and future.exception() is not None:
            log.error("cloud outbox: an acknowledgement could not be stored (%s)", future.exception())
            self._ack_wanted = self._shared.acked  # the next ack tries again
        elif self._ack_wanted > self._shared.acked:
            self._write_ack()
        self._acked.set()

    def welcome(self, acked_seq: int) -> None:
        """The cloud says it holds everything up to `acked_seq` (the session checked it is ours)."""
        self.ack(acked_seq)

    @property
    def last_seq(self) -> int:
        """The highest seq issued so far (the most the cloud can acknowledge)."""
        return self.next_seq - 1

    async def wait_committed(self, seq: int) -> None:
        """Wait until every event up to `seq` is on disk."""
        while self.committed_seq < seq:
            self._changed.clear()
            await self._changed.wait()

    async def wait_acked(self, seq: int) -> None:
        """Wait until an ack covering `seq` is durable (for tests and orderly shutdowns)."""
        while self._shared.acked < seq:
            self._acked.clear()
            await self._acked.wait()

    def need_snapshot(self) -> None:
        """Events were lost before reaching the outbox: owe the cloud a state_snapshot (durably)."""
        shared = self._shared
        shared.snapshot_needed = True

        def write(conn: sqlite3.Connection) -> None:
            shared.snapshot_needed = True
            put_setting(STATE_KEY, shared.to_json())(conn)

        self.db.submit_nowait(write)

    def snapshot_sent(self) -> None:
        """A state_snapshot reached the connection: the debt is paid."""
        shared = self._shared
        shared.snapshot_needed = False

        def write(conn: sqlite3.Connection) -> None:
            put_setting(STATE_KEY, shared.to_json())(conn)

        self.db.submit_nowait(write)

    # --- reading ------------------------------------------------------------------------------

    async def read_after(self, seq: int, limit: int = 500) -> list[OutboxRow]:
        """Up to `limit` committed rows with seq > `seq`, in order."""
        top = self.committed_seq

        def read(conn: sqlite3.Connection) -> list[OutboxRow]:
            return [
                OutboxRow(s, e)
                for s, e in conn.execute(
                    "SELECT seq, event FROM outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                    (seq, top, limit),
                )
            ]

        return await self.db.read(read)

    async def next_rows(self, seq: int, limit: int = 500) -> list[OutboxRow]:
        """Like `read_after`, but waits until there is at least one row."""
        while True:
            self._changed.clear()
            rows = await self.read_after(seq, limit) if self.committed_seq > seq else []
            if rows:
                return rows
            await self._changed.wait()


def _shed(conn: sqlite3.Connection, shared: _Shared, limit: int) -> None:
    """Bring the table under `limit`: coalesce telemetry, drop oldest telemetry, then oldest anything."""
    target = int(limit * SHED_TO)
    telemetry = "kind >= 't:' AND kind < 't;'"  # the 't:' prefix as an index-friendly range
    removed = conn.execute(
        f"DELETE FROM outbox WHERE {telemetry} AND seq NOT IN "  # noqa: S608 (constant fragments)
        f"(SELECT MAX(seq) FROM outbox WHERE {telemetry} GROUP BY kind)"
    ).rowcount
    shared.count -= removed
    shared.coalesced += removed
    top_deleted = 0
    if shared.count > target:
        excess = shared.count - target
        row = conn.execute(
            f"SELECT MAX(seq), COUNT(*) FROM (SELECT seq FROM outbox WHERE {telemetry} "  # noqa: S608
            "ORDER BY seq LIMIT ?)",
            (excess,),
        ).fetchone()
        if row[1]:
            conn.execute(f"DELETE FROM outbox WHERE {telemetry} AND seq <= ?", (row[0],))  # noqa: S608
            shared.count -= row[1]
            shared.dropped += row[1]
            top_deleted = max(top_deleted, row[0])
    if shared.count > target:
        excess = shared.count - target
        (top,) = conn.execute(
            "SELECT MAX(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (excess,)
        ).fetchone()
        removed = conn.execute("DELETE FROM outbox WHERE seq <= ?", (top,)).rowcount
        shared.count -= removed
        shared.dropped += removed
        shared.snapshot_needed = True
        top_deleted = max(top_deleted, top)
    if removed or top_deleted:
        log.warning(
            "cloud outbox over its limit of %d: %d telemetry readings coalesced, %d events dropped so far%s",
            limit,
            shared.coalesced,
            shared.dropped,
            "; a state snapshot will follow" if shared.snapshot_needed else "",
        )
    # The coalesced rows were all below the newest telemetry row, so only explicit drops move the floor
    # (which only matters if every row above them is later acked; MAX(seq) covers the rest).
    shared.floor = max(shared.floor, top_deleted)
    put_setting(STATE_KEY, shared.to_json())(conn)
