"""Cloud commands: run through the hub exactly like LAN commands, at most once per command id.

Rules of this file: the radio is reached before anything touches the disk (the result is written
after it is known, off the hot path). A command id is executed once: a repeat while it runs waits
for the same outcome; a repeat afterwards gets the stored result. Results are kept for
`retention` seconds (and at most `max_kept`), in memory and in the `command_results` table, so a
lookup never waits on the disk. An expired command is answered `error: expired` and not run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import OrderedDict

from hub_agent.cloud.protocol import CommandMessage, CommandResultMessage
from hub_agent.hub import Hub
from hub_agent.store import Database
from hub_core import ratelog
from hub_core.backoff import Clock
from hub_core.errors import CommandError

log = logging.getLogger(__name__)

RETENTION = 7 * 24 * 3600.0
MAX_KEPT = 50_000


class CommandDesk:
    """Executes cloud commands idempotently and remembers their results."""

    def __init__(
        self,
        hub: Hub,
        db: Database,
        clock: Clock,
        *,
        retention: float = RETENTION,
        max_kept: int = MAX_KEPT,
    ) -> None:
        self.hub = hub
        self.db = db
        self.clock = clock
        self.retention = retention
        self.max_kept = max_kept
        self.last_command_id: str | None = None
        self.executed = 0
        self.duplicates = 0
        self.expired = 0
        self._results: OrderedDict[str, CommandResultMessage] = OrderedDict()
        self._running: dict[str, asyncio.Future[CommandResultMessage]] = {}

    async def load(self) -> None:
        """Forget results older than the retention and load the rest; call once before `handle`."""
        horizon = self.clock.time() - self.retention
        max_kept = self.max_kept

        def load(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            conn.execute("DELETE FROM command_results WHERE ts < ?", (horizon,))
            return list(
                conn.execute(
                    "SELECT id, result FROM (SELECT id, result, ts FROM command_results "
                    "ORDER BY ts DESC LIMIT ?) ORDER BY ts",
                    (max_kept,),
                )
            )

        for command_id, text in await self.db.write(load):
            try:
                data = json.loads(text)
                self._results[command_id] = CommandResultMessage(
                    command_id, data["status"], float(data["ms"]), data.get("error"), data.get("message")
                )
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring unreadable stored result of command %s", command_id)
            self.last_command_id = command_id

    def stored(self, command_id: str) -> CommandResultMessage | None:
        """The remembered result of `command_id`, if any."""
        return self._results.get(command_id)

    async def handle(self, message: CommandMessage) -> CommandResultMessage:
        """The result of `message`: stored, shared with a running twin, or from running it now."""
        done = self._results.get(message.id)
        if done is not None:
            self.duplicates += 1
            ratelog.log(
                log, "cloud.duplicate", logging.INFO, "command %s: duplicate id, stored result", message.id
            )
            return done
        running = self._running.get(message.id)
        if running is not None:
            self.duplicates += 1
            ratelog.log(
                log, "cloud.duplicate", logging.INFO, "command %s: duplicate id while it runs", message.id
            )
            return await asyncio.shield(running)
        future: asyncio.Future[CommandResultMessage] = asyncio.get_running_loop().create_future()
        self._running[message.id] = future
        try:
            result = await self._run(message)
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._running[message.id]
        self._remember(result)
        future.set_result(result)
        return result

    async def _run(self, message: CommandMessage) -> CommandResultMessage:
        started = time.perf_counter()
        if message.expires_at is not None and self.clock.time() >= message.expires_at:
            self.expired += 1
            ratelog.log(
                log, "cloud.expired", logging.INFO, "command %s expired before it could run", message.id
            )
            return CommandResultMessage(
                message.id, "error", _ms(started), "expired", "the command expired before it reached the hub"
            )
        self.executed += 1
        try:
            await self.hub.execute(message.device, message.command, message.args)
        except CommandError as exc:
            ratelog.log(log, "cloud.command_failed", logging.INFO, "command %s failed: %s", message.id, exc)
            return CommandResultMessage(message.id, "error", _ms(started), exc.code, str(exc))
        except Exception as exc:
            log.exception("command %s (%s %s) crashed", message.id, message.device, message.command)
            return CommandResultMessage(
                message.id, "error", _ms(started), "internal", f"{type(exc).__name__}: {exc}"
            )
        return CommandResultMessage(message.id, "ok", _ms(started))

    def _remember(self, result: CommandResultMessage) -> None:
        self._results[result.id] = result
        self.last_command_id = result.id
        evicted: list[str] = []
        while len(self._results) > self.max_kept:
            evicted.append(self._results.popitem(last=False)[0])
        payload = result.to_payload()
        payload.pop("id")
        text = json.dumps(payload, separators=(",", ":"))
        ts = self.clock.time()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO command_results (id, result, ts) VALUES (?, ?, ?)",
                (result.id, text, ts),
            )
            conn.executemany("DELETE FROM command_results WHERE id = ?", [(e,) for e in evicted])

        self.db.submit_nowait(write)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
