"""The rules engine as an agent part: store, CRUD API, the bus hook, the scheduler and the runner.

Rules of this file: the store is the source of truth for rules; memory holds the compiled index.
`load()` runs before the radios start, so the first radio event already finds every rule. The inline
bus handler is the hot path: `decide()`, then `Runner.fire()`, nothing else on success. Schedules
that came due while the agent was down are not replayed (a 07:00 alarm at 09:30 would be wrong);
pending delays are (they were promised), once, and logged as late — also for a rule disabled
since, because disabling a rule stops new triggers, not actions already under way.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from hub_agent.config import RulesSection
from hub_agent.runtime import Runtime
from hub_core import ratelog
from hub_core.clock import Clock, SystemClock
from hub_core.errors import RuleError, RuleProblem
from hub_core.model import DeviceAdded, HubEvent, JSONObject, Notification, StateChanged, rfc3339
from local_rules.compiler import (
    Decision,
    Fault,
    Fire,
    HubStarted,
    Index,
    TimeReached,
    compile_rules,
    decide,
)
from local_rules.model import AtTrigger, CronTrigger, Rule, SunTrigger
from local_rules.parser import parse_rule
from local_rules.runner import Resume, Runner, delete_pending
from local_rules.schedule import Place, next_fire

log = logging.getLogger(__name__)


# --- store operations ---------------------------------------------------------------------------


def _save_rule(rule_id: str, source: JSONObject, updated: float) -> Callable[[sqlite3.Connection], None]:
    text = json.dumps(source, separators=(",", ":"))

    def operation(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO rules (id, json, updated) VALUES (?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated = excluded.updated",
            (rule_id, text, updated),
        )

    return operation


def _delete_rule(rule_id: str) -> Callable[[sqlite3.Connection], bool]:
    def operation(conn: sqlite3.Connection) -> bool:
        found = conn.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount > 0
        conn.execute("DELETE FROM rule_runtime WHERE rule_id = ?", (rule_id,))
        conn.execute("DELETE FROM pending_actions WHERE rule_id = ?", (rule_id,))
        return found

    return operation


def _save_fired(rule_id: str, ts: float) -> Callable[[sqlite3.Connection], None]:
    def operation(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO rule_runtime (rule_id, last_fired) VALUES (?, ?)"
            " ON CONFLICT(rule_id) DO UPDATE SET last_fired = excluded.last_fired",
            (rule_id, ts),
        )

    return operation


def _save_error(rule_id: str, error: str | None, ts: float) -> Callable[[sqlite3.Connection], None]:
    def operation(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO rule_runtime (rule_id, last_error, error_ts) VALUES (?, ?, ?)"
            " ON CONFLICT(rule_id) DO UPDATE"
            " SET last_error = excluded.last_error, error_ts = excluded.error_ts",
            (rule_id, error, ts),
        )

    return operation


def _load_all(
    max_rules: int, max_bytes: int
) -> Callable[
    [sqlite3.Connection],
    tuple[list[tuple[str, str]], int, list[tuple[str, Any, Any]], list[tuple[int, str, float, str]]],
]:
    """Rules within the limits (never more than `max_rules` of at most `max_bytes` read into memory),
    how many stored rules were left out, runtime info and pending delays."""

    def read(
        conn: sqlite3.Connection,
    ) -> tuple[list[tuple[str, str]], int, list[tuple[str, Any, Any]], list[tuple[int, str, float, str]]]:
        rules = conn.execute(
            "SELECT id, json FROM rules WHERE length(CAST(json AS BLOB)) <= ? ORDER BY id LIMIT ?",
            (max_bytes, max_rules),
        ).fetchall()
        (stored,) = conn.execute("SELECT count(*) FROM rules").fetchone()
        runtime = conn.execute("SELECT rule_id, last_fired, last_error FROM rule_runtime").fetchall()
        return rules, int(stored) - len(rules), runtime, _load_pending(conn)

    return read


def _load_pending(conn: sqlite3.Connection) -> list[tuple[int, str, float, str]]:
    return conn.execute("SELECT id, rule_id, due, payload FROM pending_actions ORDER BY due, id").fetchall()


def _only_unknown_devices(error: RuleError) -> bool:
    return all(p.message.startswith("unknown device") for p in error.problems)


def read_seed(path: Path) -> list[object]:
    """The rules in a seed file: a JSON list of rules, `{"rules": [...]}`, or one rule object."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        return list(data["rules"])
    if isinstance(data, list):
        return data
    return [data]


class RulesService:
    """The local rules engine: a supervised part and the RulesApi for the LAN API and the cloud."""

    name = "rules"

    def __init__(self, runtime: Runtime, clock: Clock | None = None) -> None:
        self.runtime = runtime
        self.clock: Clock = clock or SystemClock()
        hub_config = runtime.config.hub
        self.place = Place(hub_config.timezone, hub_config.latitude, hub_config.longitude)
        rules_config = runtime.config.rules
        self.seed_file = rules_config.file if rules_config is not None else None
        limit = rules_config.max_fires_per_minute if rules_config is not None else 120
        defaults = RulesSection()
        self.max_rules = (rules_config or defaults).max_rules
        self.max_rule_bytes = (rules_config or defaults).max_rule_bytes
        self._sources: dict[str, JSONObject] = {}
        self._rules: dict[str, Rule] = {}
        self._broken: dict[str, str] = {}
        self._last_fired: dict[str, float] = {}
        self._last_error: dict[str, str | None] = {}
        self._pending: list[tuple[int, str, float, str]] = []
        self.index: Index = compile_rules((), self.place)
        self.runner = Runner(
            runtime.hub,
            runtime.bus,
            runtime.db,
            self.clock,
            max_fires_per_minute=limit,
            fired=self._record_fired,
            failed=self._record_error,
            set_enabled=self._set_enabled,
            runaway=self._stop_runaway,
            max_commands_per_second=(rules_config or defaults).max_commands_per_second,
            overloaded=self._stop_overloaded,
        )
        self._schedule_changed = asyncio.Event()
        self._reschedule_all = True
        self._reschedule: set[str] = set()
        self._remove_handler: Callable[[], None] | None = None
        self._retry_scheduled = False
        self._started = False
        self.faults = 0

    # --- start-up -----------------------------------------------------------------------------

    def load(self) -> None:
        """Read rules, runtime info and pending delays; seed from the rules file; hook into the bus."""
        db = self.runtime.db
        rows, left_out, runtime_rows, self._pending = db.read_now(
            _load_all(self.max_rules, self.max_rule_bytes)
        )
        if left_out:
            # Stored by an older version without limits: loading them could exhaust memory at every start.
            log.error(
                "rules: %d stored rules exceed [rules] max_rules=%d or max_rule_bytes=%d and are not loaded "
                "(DELETE /api/v1/rules/{id} removes one)",
                left_out,
                self.max_rules,
                self.max_rule_bytes,
            )
        for rule_id, last_fired, last_error in runtime_rows:
            if last_fired is not None:
                self._last_fired[rule_id] = float(last_fired)
            self._last_error[rule_id] = last_error
        for rule_id, text in rows:
            try:
                source = json.loads(text)
            except ValueError as exc:
                source = exc
            if not isinstance(source, dict):
                log.error("rule %s: stored JSON is not a rule object (%s); skipped", rule_id, source)
                continue
            self._sources[rule_id] = source
            self._try_compile(rule_id, source)
        if self.seed_file is not None:
            self._seed(self.seed_file)
        self.runner.rows_used(max((row for row, *_ in self._pending), default=0))
        self._reindex()
        if self._remove_handler is None:
            self._remove_handler = self.runtime.bus.add_handler(self._on_event)
        log.info(
            "rules: %d loaded, %d not loadable, %d pending delays",
            len(self._rules),
            len(self._broken),
            len(self._pending),
        )

    def _try_compile(self, rule_id: str, source: object, *, quiet: bool = False) -> Rule | None:
        try:
            rule = parse_rule(source, self.runtime.hub.device, sun_available=self.place.has_location)
        except RuleError as exc:
            self._broken[rule_id] = str(exc)
            if not quiet:
                log.error("rule %s cannot run: %s", rule_id, exc)
            return None
        self._broken.pop(rule_id, None)
        self._rules[rule_id] = rule
        return rule

    def _seed(self, path: Path) -> None:
        try:
            seeds = read_seed(path)
        except (OSError, ValueError) as exc:
            log.error("rules seed file %s unreadable: %s", path, exc)
            return
        for number, raw in enumerate(seeds):
            if len(self._sources) >= self.max_rules:
                log.error(
                    "rules seed file %s: the limit of %d rules is reached; the rest is skipped",
                    path,
                    self.max_rules,
                )
                return
            rule_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(rule_id, str) or rule_id in self._sources:
                if not isinstance(rule_id, str):
                    log.error("rules seed file %s: entry %d has no id; skipped", path, number)
                continue
            try:
                rule = parse_rule(raw, self.runtime.hub.device, sun_available=self.place.has_location)
            except RuleError as exc:
                # A seed may name devices that have not joined yet: keep it, it compiles once they do.
                if not _only_unknown_devices(exc):
                    log.error("rules seed file %s: rule %s refused: %s", path, rule_id, exc)
                    continue
                assert isinstance(raw, dict)
                self._sources[rule_id] = raw
                self._broken[rule_id] = str(exc)
                self.runtime.db.submit_nowait(_save_rule(rule_id, raw, self.clock.now()))
                log.warning("rule %s seeded from %s; it runs once its devices join (%s)", rule_id, path, exc)
                continue
            self._sources[rule_id] = rule.source
            self._rules[rule_id] = rule
            self.runtime.db.submit_nowait(_save_rule(rule_id, rule.source, self.clock.now()))
            log.info("rule %s seeded from %s", rule_id, path)

    def _reindex(self, changed: str | None = None) -> None:
        """Update the index for the `changed` rule (rebuild it if None) and reschedule accordingly."""
        if changed is None:
            self.index = compile_rules(self._rules.values(), self.place)
            self._reschedule_all = True
        else:
            rule = self._rules.get(changed)
            if rule is None:
                self.index.remove(changed)
            else:
                self.index.add(rule)
            self._reschedule.add(changed)
        self._schedule_changed.set()

    # --- the hot path -------------------------------------------------------------------------

    def _on_event(self, event: HubEvent) -> None:
        if isinstance(event, StateChanged):
            self.runner.state_changed(event)
        elif isinstance(event, DeviceAdded) and self._broken and not self._retry_scheduled:
            self._retry_scheduled = True
            asyncio.get_running_loop().call_soon(self._retry_broken)
        decisions = decide(self.index, self.runtime.hub, event)
        if decisions:
            self._act(decisions)

    def _act(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Fire):
                self.runner.fire(decision)
            else:
                self._record_fault(decision)

    def _record_fault(self, fault: Fault) -> None:
        self.faults += 1
        ratelog.log(log, "rules.fault", logging.ERROR, "rule %s: %s", fault.rule, fault.error)
        self._record_error(fault.rule, fault.error)

    def _retry_broken(self) -> None:
        """A device joined: rules that named it may compile now."""
        self._retry_scheduled = False
        fixed = [
            rule_id
            for rule_id in list(self._broken)
            if self._try_compile(rule_id, self._sources[rule_id], quiet=True)
        ]
        for rule_id in fixed:
            log.info("rule %s compiles now that its devices are known", rule_id)
            self._record_error(rule_id, None)
            self._reindex(rule_id)

    # --- runtime info ---------------------------------------------------------------------------

    def _record_fired(self, rule_id: str, ts: float) -> None:
        self._last_fired[rule_id] = ts
        self.runtime.db.submit_nowait(_save_fired(rule_id, ts))

    def _record_error(self, rule_id: str, error: str | None) -> None:
        if error is not None:
            # A rule whose device is gone fails at every trigger: bounded, and counted in /metrics.
            ratelog.log(log, "rules.failed", logging.WARNING, "rule %s: %s", rule_id, error)
        self._last_error[rule_id] = error
        self.runtime.db.submit_nowait(_save_error(rule_id, error, self.clock.now()))

    def _set_enabled(self, rule_id: str, enabled: bool) -> None:
        """The enable_rule/disable_rule actions: instant in the index, persisted off the hot path."""
        rule = self._rules.get(rule_id)
        if rule is None:
            raise RuleError(
                [RuleProblem("$.rule", f"no rule {rule_id!r} to {'enable' if enabled else 'disable'}")]
            )
        if enabled:
            self.index.disabled.discard(rule_id)
        else:
            self.index.disabled.add(rule_id)
        source = {**self._sources[rule_id], "enabled": enabled}
        self._sources[rule_id] = source
        self._rules[rule_id] = replace(rule, enabled=enabled, source=source)
        self.runtime.db.submit_nowait(_save_rule(rule_id, source, self.clock.now()))

    def _stop_runaway(self, rule_id: str, count: int) -> None:
        limit = self.runner.max_fires_per_minute
        message = (
            f"stopped: fired {count} times within a minute (limit {limit}), probably a loop of rules "
            "triggering each other; fix it and enable the rule again"
        )
        ratelog.log(log, "rules.runaway", logging.ERROR, "rule %s %s", rule_id, message)
        if rule_id in self._rules:
            self._set_enabled(rule_id, False)
        self._record_error(rule_id, message)
        self.runtime.bus.publish(Notification(rule_id, f"Rule {rule_id} {message}", self.clock.now()))

    def _stop_overloaded(self, rule_id: str, why: str) -> None:
        """The global command budget: the rule that would pass it is disabled, like a runaway rule."""
        message = f"stopped: {why}, probably a loop of rules; fix it and enable the rule again"
        self.runner.cancel_rule(rule_id)
        if rule_id in self._rules and rule_id not in self.index.disabled:
            self._set_enabled(rule_id, False)
            self._record_error(rule_id, message)
            self.runtime.bus.publish(Notification(rule_id, f"Rule {rule_id} {message}", self.clock.now()))

    # --- RulesApi -------------------------------------------------------------------------------

    def _with_runtime(self, rule_id: str) -> JSONObject:
        fired = self._last_fired.get(rule_id)
        error = self._broken.get(rule_id)
        error = f"not loaded: {error}" if error is not None else self._last_error.get(rule_id)
        return {
            **self._sources[rule_id],
            "last_fired": rfc3339(fired) if fired is not None else None,
            "last_error": error,
        }

    def list_rules(self) -> list[JSONObject]:
        """Every rule's JSON plus `last_fired`/`last_error`, sorted by id."""
        return [self._with_runtime(rule_id) for rule_id in sorted(self._sources)]

    def get_rule(self, rule_id: str) -> JSONObject | None:
        """One rule's JSON with runtime fields, or None."""
        return self._with_runtime(rule_id) if rule_id in self._sources else None

    async def put_rule(self, rule: object) -> JSONObject:
        """Validate, store durably, then install (replacing a rule with other actions stops its runs)."""
        size = len(json.dumps(rule, separators=(",", ":"), default=str).encode())
        if size > self.max_rule_bytes:
            raise RuleError(
                [RuleProblem("$", f"the rule is {size} bytes as JSON; the limit is {self.max_rule_bytes}")]
            )
        parsed = parse_rule(rule, self.runtime.hub.device, sun_available=self.place.has_location)
        if parsed.id not in self._sources and len(self._sources) >= self.max_rules:
            raise RuleError(
                [
                    RuleProblem(
                        "$.id",
                        f"the hub already has {len(self._sources)} rules, the limit; delete one first",
                    )
                ]
            )
        await self.runtime.db.write(_save_rule(parsed.id, parsed.source, self.clock.now()))
        old = self._rules.get(parsed.id)
        if old is not None and old.digest != parsed.digest:
            self.runner.cancel_rule(parsed.id)
        self._sources[parsed.id] = parsed.source
        self._rules[parsed.id] = parsed
        self._broken.pop(parsed.id, None)
        if self._last_error.get(parsed.id) is not None:
            self._record_error(parsed.id, None)  # a new version starts with a clean slate
        self._reindex(parsed.id)
        log.info("rule %s stored (%s)", parsed.id, "replaced" if old is not None else "new")
        return self._with_runtime(parsed.id)

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule, its runtime info and its pending delays; stop its runs. Also removes a stored
        rule that was not loaded because it exceeds the limits."""
        if not await self.runtime.db.write(_delete_rule(rule_id)) and rule_id not in self._sources:
            return False
        self.runner.forget(rule_id)
        for table in (self._sources, self._rules, self._broken, self._last_fired, self._last_error):
            table.pop(rule_id, None)
        self._reindex(rule_id)
        log.info("rule %s deleted", rule_id)
        return True

    # --- the part -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Fire hub_start triggers, resume pending delays, then run the schedules until cancelled."""
        if self._remove_handler is None:  # a restart by the supervisor after a crash
            self._remove_handler = self.runtime.bus.add_handler(self._on_event)
        try:
            if not self._started:  # once per agent start, not again after a crash-restart of run()
                self._started = True
                self._act(decide(self.index, self.runtime.hub, HubStarted(self.clock.now())))
            else:
                # The last run() left its delays in the store when it stopped; pick them up again.
                self._pending = await self.runtime.db.read(_load_pending)
            self._resume_pending()
            await self._schedule()
        finally:
            self.close()  # no new runs once stopping: events after this are not ours to act on
            await self.runner.shutdown()

    def close(self) -> None:
        """Unhook from the bus (the agent stops parts by cancelling `run()`)."""
        if self._remove_handler is not None:
            self._remove_handler()
            self._remove_handler = None

    def _resume_pending(self) -> None:
        pending, self._pending = self._pending, []
        now = self.clock.now()
        for row, rule_id, due, text in pending:
            rule = self._rules.get(rule_id)
            try:
                payload = json.loads(text)
                start, trigger, ts, digest = (
                    int(payload["start"]),
                    str(payload["trigger"]),
                    float(payload["ts"]),
                    payload["digest"],
                )
            except (ValueError, KeyError, TypeError) as exc:
                log.error("pending delay %d of rule %s is unreadable (%s); dropped", row, rule_id, exc)
                self.runtime.db.submit_nowait(delete_pending(row))
                continue
            if rule is None or rule.digest != digest or start > len(rule.actions):
                log.warning("pending delay %d of rule %s no longer matches the rule; dropped", row, rule_id)
                self.runtime.db.submit_nowait(delete_pending(row))
                continue
            late = due < now
            if late:
                log.warning(
                    "rule %s: delay was due at %s while the agent was down; running it now, %.0f s late",
                    rule_id,
                    rfc3339(due),
                    now - due,
                )
            self.runner.resume(rule, trigger, ts, Resume(row, due, start, late))

    def _next_fire(
        self, rule_id: str, trigger: AtTrigger | SunTrigger | CronTrigger, after: float
    ) -> float | None:
        try:
            return next_fire(trigger, after, self.place)
        except Exception as exc:  # one rule's schedule must not stop the others'
            log.exception("rule %s: cannot compute its next time", rule_id)
            self._record_error(rule_id, f"schedule failed: {exc!r}")
            return None

    async def _schedule(self) -> None:
        """Sleep until the next time trigger, fire it, repeat; reschedule only the rules that changed."""
        # Entries carry their rule's schedule generation; a changed rule gets a new one, and its
        # old entries are skipped when they surface, so a put never recomputes everyone's schedule.
        heap: list[tuple[float, str, int, int]] = []
        generation: dict[str, int] = {}
        self._reschedule_all = True  # also after a restart of run()
        self._schedule_changed.set()
        while True:
            if self._schedule_changed.is_set():
                self._schedule_changed.clear()
                if self._reschedule_all:
                    heap, generation, targets = [], {}, set(self._rules)
                else:
                    targets = set(self._reschedule)
                self._reschedule_all, self._reschedule = False, set()
                now = self.clock.now()
                for rule_id in targets:
                    gen = generation[rule_id] = generation.get(rule_id, 0) + 1
                    rule = self._rules.get(rule_id)
                    for number, trigger in enumerate(rule.triggers if rule is not None else ()):
                        if isinstance(trigger, AtTrigger | SunTrigger | CronTrigger):
                            due = self._next_fire(rule_id, trigger, now)
                            if due is not None:
                                heapq.heappush(heap, (due, rule_id, number, gen))
            while heap and generation.get(heap[0][1]) != heap[0][3]:
                heapq.heappop(heap)  # a stale entry of a rule that changed or went away
            waits: list[asyncio.Task[Any]] = [asyncio.ensure_future(self._schedule_changed.wait())]
            if heap:
                waits.append(asyncio.ensure_future(self.clock.sleep_until(heap[0][0])))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
            now = self.clock.now()
            while heap and heap[0][0] <= now:
                due, rule_id, number, gen = heapq.heappop(heap)
                if generation.get(rule_id) != gen:
                    continue
                self._act(decide(self.index, self.runtime.hub, TimeReached(rule_id, number, due)))
                entry = self.index.timed.get((rule_id, number))
                if entry is not None and isinstance(entry.trigger, AtTrigger | SunTrigger | CronTrigger):
                    following = self._next_fire(rule_id, entry.trigger, max(due, now))
                    if following is not None:
                        heapq.heappush(heap, (following, rule_id, number, gen))
