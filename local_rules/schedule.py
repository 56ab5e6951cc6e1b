"""Time for rules: the next firing of `at`/`sun`/`cron` triggers and time-of-day windows.

Rules of this file: pure functions of (trigger, time, zone, place). All arithmetic on wall-clock
times happens in the hub's zone with `zoneinfo`, so a daily `at` stays at its local time across DST:
a time skipped by spring-forward runs once at the same offset after the gap (02:30 -> 03:30), a time
repeated by fall-back runs once (the first occurrence).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import astral
import astral.sun

from local_rules.model import (
    AtTrigger,
    CronTrigger,
    SunEvent,
    SunTrigger,
    TimeCondition,
    TimePoint,
    TimeTrigger,
)

#: How far ahead a schedule looks before it gives up (polar night, a cron for 30 February).
_HORIZON_DAYS = 400


class Place:
    """The hub's zone and (optionally) its location, with sun times cached per day."""

    def __init__(
        self, timezone: str = "UTC", latitude: float | None = None, longitude: float | None = None
    ) -> None:
        self.tz = ZoneInfo(timezone)
        self.has_location = latitude is not None and longitude is not None
        self._observer = astral.Observer(latitude or 0.0, longitude or 0.0)
        self._sun = lru_cache(maxsize=64)(self._compute_sun)

    def local(self, ts: float) -> datetime:
        """A POSIX timestamp as an aware local datetime."""
        return datetime.fromtimestamp(ts, self.tz)

    def sun(self, day: date, event: SunEvent) -> datetime | None:
        """The sun event on a local date, or None (no location, or the sun does not rise/set)."""
        return self._sun(day, event)

    def _compute_sun(self, day: date, event: SunEvent) -> datetime | None:
        if not self.has_location:
            return None
        try:
            if event is SunEvent.SUNRISE:
                return astral.sun.sunrise(self._observer, day, tzinfo=self.tz)
            return astral.sun.sunset(self._observer, day, tzinfo=self.tz)
        except ValueError:  # polar day or night: astral says the sun never crosses the horizon
            return None


def _at_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> float:
    # fold=0: in a fall-back repeat this is the first occurrence; in a spring-forward gap zoneinfo
    # applies the pre-transition offset, which lands the same length of time after the gap starts.
    return datetime.combine(day, time(hour, minute), tz).timestamp()


def next_fire(trigger: TimeTrigger, after: float, place: Place) -> float | None:
    """The first time strictly after `after` the trigger fires, or None if it never does (soon)."""
    if isinstance(trigger, AtTrigger):
        day = place.local(after).date()
        for offset in range(3):
            due = _at_local(day + timedelta(days=offset), trigger.hour, trigger.minute, place.tz)
            if due > after:
                return due
        return None
    if isinstance(trigger, SunTrigger):
        day = place.local(after).date() - timedelta(days=1)
        shift = trigger.offset_minutes * 60
        for offset in range(_HORIZON_DAYS):
            moment = place.sun(day + timedelta(days=offset), trigger.event)
            if moment is not None and moment.timestamp() + shift > after:
                return moment.timestamp() + shift
        return None
    return _next_cron(trigger, after, place)


def _next_cron(trigger: CronTrigger, after: float, place: Place) -> float | None:
    from croniter import CroniterError, croniter  # only a hub with a cron rule pays for it (parser.py)

    start = place.local(after)
    iterator = croniter(trigger.expression, start)
    # A fixed-hour schedule (e.g. "30 2 * * *") must not run twice in the fall-back night;
    # an every-hour schedule should, since each of those hours really happens.
    hourly = "*" in trigger.expression.split()[1]
    for _ in range(10_000):
        try:
            candidate: datetime = iterator.get_next(datetime)
        except (CroniterError, ValueError):  # a date that never comes, e.g. "0 0 30 2 *"
            return None
        if candidate.timestamp() - after > _HORIZON_DAYS * 86400:
            return None
        if candidate.timestamp() <= after:
            continue
        if not hourly and _is_second_occurrence(candidate, place.tz):
            continue
        return candidate.timestamp()
    return None


def _is_second_occurrence(moment: datetime, tz: ZoneInfo) -> bool:
    """True if this wall time happened already an hour earlier (the fall-back repeat)."""
    naive = moment.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return False
    return abs(moment.timestamp() - second.timestamp()) < 1 and second.timestamp() > first.timestamp()


def point_minutes(point: TimePoint, day: date, place: Place) -> float | None:
    """Minutes after local midnight of a time point on a day; None if the sun event does not happen."""
    if point.minutes is not None:
        return float(point.minutes)
    assert point.sun is not None
    moment = place.sun(day, point.sun)
    if moment is None:
        return None
    return moment.hour * 60 + moment.minute + moment.second / 60 + point.offset_minutes


def in_window(condition: TimeCondition, ts: float, place: Place) -> bool:
    """Whether local time `ts` is inside [after, before), wrapping midnight if after > before."""
    local = place.local(ts)
    minutes = local.hour * 60 + local.minute + local.second / 60
    after = point_minutes(condition.after, local.date(), place) if condition.after else None
    before = point_minutes(condition.before, local.date(), place) if condition.before else None
    if (condition.after is not None and after is None) or (condition.before is not None and before is None):
        return False  # a sun event that does not happen today bounds nothing
    weekday = local.weekday()
    if after is not None and before is not None:
        if after <= before:
            inside = after <= minutes < before
        elif minutes >= after:
            inside = True
        else:
            # After midnight in a wrapping window: the window opened yesterday, so yesterday's
            # weekday is the one that counts.
            inside = minutes < before
            weekday = (weekday - 1) % 7 if inside else weekday
    elif after is not None:
        inside = minutes >= after
    elif before is not None:
        inside = minutes < before
    else:
        inside = True
    return inside and weekday in condition.weekdays
