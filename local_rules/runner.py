"""The runner: carries out what `decide()` chose — modes, delays, waits, scenes, runaway stops.

Rules of this file: `fire()` is called from the bus's inline handler, so it only does bookkeeping
and creates the run's task; the task's first step is the first command's `hub.send`, so nothing
(disk, JSON, logging) stands between an event and its command. A delay is written to the store as
an absolute due time *before* the run sleeps, and removed when it is done or cancelled; a shutdown
leaves it there for the next start. One run's failure is recorded against its rule and ends only
that run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hub_core import ratelog
from hub_core.bus import EventBus
from hub_core.clock import Clock
from hub_core.errors import HubError
from hub_core.model import Command, Notification, RuleFired, StateChanged, Value
from local_rules.compiler import Fire
from local_rules.model import (
    CommandAction,
    DelayAction,
    EnableRuleAction,
    Mode,
    NotifyAction,
    OnTimeout,
    Rule,
    SceneAction,
    WaitAction,
)
from local_rules.ports import CommandSink, PendingStore

log = logging.getLogger(__name__)

#: The window the runaway limit (`max_fires_per_minute`) counts over.
RUNAWAY_WINDOW = 60.0
#: The window the global command budget (`max_commands_per_second`, across all rules) counts over.
BUDGET_WINDOW = 1.0
#: Of the global budget, the share one device may take: a loop between two rules and one lamp is
#: stopped sooner than a scene over many devices.
DEVICE_SHARE = 5


@dataclass(frozen=True, slots=True)
class Resume:
    """A pending delay read back from the store: continue at action `start` once `due` comes."""

    row: int
    due: float
    start: int
    late: bool


@dataclass(eq=False, slots=True)
class Run:
    """One execution of a rule's actions."""

    fire: Fire
    start: int = 0
    resume: Resume | None = None
    task: asyncio.Task[None] | None = None
    #: Set on shutdown: the run's pending delay stays in the store for the next start.
    keep_pending: bool = False
    pending_row: int | None = None


@dataclass(slots=True)
class _RuleRuns:
    running: set[Run] = field(default_factory=set)
    queue: deque[Fire] = field(default_factory=deque)
    fires: deque[float] = field(default_factory=deque)


# --- store operations (run on the store's writer thread) ---------------------------------------


def insert_pending(row: int, rule_id: str, due: float, payload: str) -> Callable[[sqlite3.Connection], None]:
    """Store one pending delay under a row id the runner chose (so it can delete it before commit)."""

    def operation(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO pending_actions (id, rule_id, due, payload) VALUES (?, ?, ?, ?)",
            (row, rule_id, due, payload),
        )

    return operation


def delete_pending(row: int) -> Callable[[sqlite3.Connection], None]:
    """Remove one pending delay."""

    def operation(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM pending_actions WHERE id = ?", (row,))

    return operation


class Runner:
    """Runs fired rules according to their mode; owns waits, delays and the runaway limit."""

    def __init__(
        self,
        hub: CommandSink,
        bus: EventBus,
        db: PendingStore,
        clock: Clock,
        *,
        max_fires_per_minute: int,
        fired: Callable[[str, float], None],
        failed: Callable[[str, str], None],
        set_enabled: Callable[[str, bool], None],
        runaway: Callable[[str, int], None],
        next_row: int = 1,
        max_commands_per_second: int = 50,
        overloaded: Callable[[str, str], None] | None = None,
    ) -> None:
        self.hub = hub
        self.bus = bus
        self.db = db
        self.clock = clock
        self.max_fires_per_minute = max_fires_per_minute
        self._fired = fired
        self._failed = failed
        self._set_enabled = set_enabled
        self._runaway = runaway
        self._overloaded = overloaded
        self._next_row = next_row
        self.max_commands_per_second = max_commands_per_second
        self.max_device_commands_per_second = max(1, max_commands_per_second // DEVICE_SHARE)
        #: (monotonic time, device) of every command rules sent within the last BUDGET_WINDOW
        self._sent: deque[tuple[float, str]] = deque()
        self._sent_per_device: dict[str, int] = defaultdict(int)
        #: commands refused by the global budget (their rules were stopped)
        self.over_budget = 0
        self._rules: dict[str, _RuleRuns] = defaultdict(_RuleRuns)
        self._waiters: dict[tuple[str, str], list[tuple[asyncio.Future[None], tuple[Value, ...]]]] = {}
        self.dropped = 0
        self.runs_started = 0

    # --- hot path -----------------------------------------------------------------------------

    def fire(self, fire: Fire) -> None:
        """Start (or queue, or drop) a run of `fire.rule` according to its mode."""
        rule = fire.rule
        runs = self._rules[rule.id]
        now = self.clock.monotonic()
        fires = runs.fires
        fires.append(now)
        while fires and fires[0] <= now - RUNAWAY_WINDOW:
            fires.popleft()
        if len(fires) > self.max_fires_per_minute:
            count = len(fires)
            fires.clear()
            self.cancel_rule(rule.id)
            self._runaway(rule.id, count)
            return
        if not runs.running:
            self._start(Run(fire))
            return
        mode = rule.mode
        if mode is Mode.RESTART:
            self.cancel_rule(rule.id)
            self._start(Run(fire))
        elif mode is Mode.PARALLEL and len(runs.running) < rule.max_runs:
            self._start(Run(fire))
        elif mode is Mode.QUEUED and len(runs.queue) < rule.max_runs:
            runs.queue.append(fire)
        else:
            self.dropped += 1
            if mode is not Mode.SINGLE:
                ratelog.log(
                    log,
                    "rules.dropped",
                    logging.WARNING,
                    "rule %s: %s limit of %d reached, trigger %r dropped",
                    rule.id,
                    mode,
                    rule.max_runs,
                    fire.trigger,
                )

    def state_changed(self, event: StateChanged) -> None:
        """Wake `wait` actions waiting for this value."""
        waiters = self._waiters.get((event.device, event.attribute))
        if waiters:
            for future, values in waiters:
                if event.value in values and not future.done():
                    future.set_result(None)

    # --- life cycle -----------------------------------------------------------------------------

    def rows_used(self, highest: int) -> None:
        """Pending-delay row ids up to `highest` exist in the store; new ones go above."""
        self._next_row = max(self._next_row, highest + 1)

    def resume(self, rule: Rule, trigger: str, ts: float, resume: Resume) -> None:
        """Continue a run whose delay was pending when the agent stopped."""
        self._start(Run(Fire(rule, trigger, ts), start=resume.start, resume=resume))

    def running(self, rule_id: str) -> int:
        """How many runs of the rule are in progress."""
        runs = self._rules.get(rule_id)
        return len(runs.running) if runs else 0

    def cancel_rule(self, rule_id: str) -> None:
        """Stop every run of a rule (their pending delays are removed) and forget its queue."""
        runs = self._rules.get(rule_id)
        if runs is None:
            return
        runs.queue.clear()
        for run in list(runs.running):
            if run.task is not None:
                run.task.cancel()
        runs.running.clear()

    def forget(self, rule_id: str) -> None:
        """Cancel a rule's runs and drop its bookkeeping (the rule was deleted)."""
        self.cancel_rule(rule_id)
        self._rules.pop(rule_id, None)

    async def shutdown(self) -> None:
        """Cancel every run, leaving pending delays in the store, and wait for them to end."""
        tasks: list[asyncio.Task[None]] = []
        for runs in self._rules.values():
            runs.queue.clear()
            for run in runs.running:
                run.keep_pending = True
                if run.task is not None:
                    run.task.cancel()
                    tasks.append(run.task)
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, run: Run) -> None:
        self.runs_started += 1
        self._rules[run.fire.rule.id].running.add(run)
        run.task = asyncio.get_running_loop().create_task(self._execute(run), name=f"rule:{run.fire.rule.id}")

    def _finished(self, run: Run) -> None:
        runs = self._rules.get(run.fire.rule.id)
        if runs is None:
            return
        runs.running.discard(run)
        if runs.queue and not runs.running:
            self._start(Run(runs.queue.popleft()))

    # --- executing ------------------------------------------------------------------------------

    async def _execute(self, run: Run) -> None:
        rule = run.fire.rule
        announced = run.start > 0  # a resumed run was announced before the restart
        step = run.start
        try:
            if run.resume is not None:
                await self._sleep_pending(run, run.resume.row, run.resume.due)
            for step in range(run.start, len(rule.actions)):
                action = rule.actions[step]
                if isinstance(action, CommandAction | SceneAction):
                    commands = (action.command,) if isinstance(action, CommandAction) else action.commands
                    why = self._spend(commands)
                    if why is not None:
                        self._over_budget(rule.id, why)
                        return
                    if isinstance(action, CommandAction):
                        await self.hub.send(action.command)
                    else:
                        await self._scene(action.commands)
                elif isinstance(action, DelayAction | WaitAction):
                    if not announced:
                        announced = self._announce(run)
                    if isinstance(action, DelayAction):
                        await self._delay(run, step, action.seconds)
                    elif not await self._wait(action) and action.on_timeout is OnTimeout.STOP:
                        log.info(
                            "rule %s: wait for %s %s timed out, stopping",
                            rule.id,
                            action.device,
                            action.attribute,
                        )
                        break
                elif isinstance(action, EnableRuleAction):
                    self._set_enabled(action.rule, action.enable)
                elif isinstance(action, NotifyAction):
                    self.bus.publish(Notification(rule.id, action.message, self.clock.now()))
                if not announced:
                    announced = self._announce(run)
            if not announced:
                self._announce(run)
        except asyncio.CancelledError:
            raise
        except HubError as exc:
            self._failed(rule.id, f"actions[{step}]: {exc}")
        except Exception as exc:  # a bug in one run must not stop the others; it is recorded and logged
            log.exception("rule %s: actions[%d] failed", rule.id, step)
            self._failed(rule.id, f"actions[{step}]: internal error: {exc!r}")
        finally:
            self._finished(run)

    def _spend(self, commands: Sequence[Command]) -> str | None:
        """Take `commands` from the budget all rules share, or return which limit they would pass."""
        now = self.clock.monotonic()
        sent, per_device = self._sent, self._sent_per_device
        while sent and sent[0][0] <= now - BUDGET_WINDOW:
            _, device = sent.popleft()
            per_device[device] -= 1
            if not per_device[device]:
                del per_device[device]
        if len(sent) + len(commands) > self.max_commands_per_second:
            return f"rules together may send at most {self.max_commands_per_second} commands per second"
        wanted: dict[str, int] = defaultdict(int)
        for command in commands:
            wanted[command.device] += 1
        for device, count in wanted.items():
            if per_device.get(device, 0) + count > self.max_device_commands_per_second:
                return (
                    f"rules together may send at most {self.max_device_commands_per_second} commands "
                    f"per second to {device}"
                )
        for command in commands:
            sent.append((now, command.device))
            per_device[command.device] += 1
        return None

    def _over_budget(self, rule_id: str, why: str) -> None:
        """A rule would pass the global budget: it is stopped like a runaway rule (its runs end)."""
        self.over_budget += 1
        ratelog.log(log, "rules.over_budget", logging.WARNING, "rule %s stopped: %s", rule_id, why)
        if self._overloaded is not None:
            self._overloaded(rule_id, why)

    def _announce(self, run: Run) -> bool:
        """Publish `rule_fired`: latency is the event's time to the first command's radio confirmation
        (or to the first delay, wait or other action when the rule does not start with a command)."""
        now = self.clock.now()
        latency_ms = max(0.0, (now - run.fire.ts) * 1000)
        self.bus.publish(RuleFired(run.fire.rule.id, run.fire.trigger, latency_ms, now))
        self._fired(run.fire.rule.id, now)
        return True

    async def _scene(self, commands: Sequence[Command]) -> None:
        """Send commands together: the hub groups them per radio (one group cast where possible)."""
        await self.hub.send_together(commands)

    async def _delay(self, run: Run, step: int, seconds: float) -> None:
        due = self.clock.now() + seconds
        row = self._next_row
        self._next_row += 1
        payload = json.dumps(
            {
                "start": step + 1,
                "trigger": run.fire.trigger,
                "ts": run.fire.ts,
                "digest": run.fire.rule.digest,
            }
        )
        # Durable before sleeping: a delay that is not on disk would be lost by a power cut.
        try:
            await self.db.write(insert_pending(row, run.fire.rule.id, due, payload))
        except asyncio.CancelledError:
            if not run.keep_pending:
                self.db.submit_nowait(delete_pending(row))  # queued after the insert, so it wins
            raise
        await self._sleep_pending(run, row, due)

    async def _sleep_pending(self, run: Run, row: int, due: float) -> None:
        run.pending_row = row
        try:
            await self.clock.sleep_until(due)
        finally:
            run.pending_row = None
            if not run.keep_pending:
                self.db.submit_nowait(delete_pending(row))

    async def _wait(self, action: WaitAction) -> bool:
        device = self.hub.device(action.device)
        if device is not None and device.state.get(action.attribute) in action.values:
            return True
        key = (action.device, action.attribute)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (future, action.values)
        self._waiters.setdefault(key, []).append(entry)
        timer = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + action.timeout_seconds))
        try:
            await asyncio.wait((future, timer), return_when=asyncio.FIRST_COMPLETED)
            return future.done() and not future.cancelled()
        finally:
            timer.cancel()
            future.cancel()
            await asyncio.gather(timer, return_exceptions=True)
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.remove(entry)
                if not waiters:
                    del self._waiters[key]
