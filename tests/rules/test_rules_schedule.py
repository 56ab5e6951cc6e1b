"""Time tests: `at`, `sun` and `cron` across DST changes, and windows that wrap midnight."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import astral
import astral.sun
import pytest

from local_rules.model import AtTrigger, CronTrigger, SunEvent, SunTrigger, TimeCondition, TimePoint
from local_rules.schedule import Place, in_window, next_fire

BERLIN = Place("Europe/Berlin", 52.52, 13.40)
NEW_YORK = Place("America/New_York", 40.71, -74.01)


def local(place: Place, year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=place.tz).timestamp()


def fires(place: Place, trigger: AtTrigger | SunTrigger | CronTrigger, start: float, count: int) -> list[str]:
    out: list[str] = []
    when = start
    for _ in range(count):
        following = next_fire(trigger, when, place)
        assert following is not None and following > when
        when = following
        out.append(place.local(when).strftime("%m-%d %H:%M %Z"))
    return out


def test_at_keeps_its_local_time_across_both_dst_changes() -> None:
    spring = fires(BERLIN, AtTrigger(7, 0), local(BERLIN, 2026, 3, 28, 12, 0), 3)
    assert spring == ["03-29 07:00 CEST", "03-30 07:00 CEST", "03-31 07:00 CEST"]
    autumn = fires(BERLIN, AtTrigger(7, 0), local(BERLIN, 2026, 10, 24, 12, 0), 2)
    assert autumn == ["10-25 07:00 CET", "10-26 07:00 CET"]
    # 23 and 25 hours between the mornings around the changes, 24 elsewhere.
    a = next_fire(AtTrigger(7, 0), local(BERLIN, 2026, 3, 28, 12, 0), BERLIN)
    b = next_fire(AtTrigger(7, 0), local(BERLIN, 2026, 3, 28, 6, 0), BERLIN)
    assert a is not None and b is not None and a - b == 23 * 3600


def test_at_in_the_spring_gap_runs_once_after_it() -> None:
    assert fires(NEW_YORK, AtTrigger(2, 30), local(NEW_YORK, 2026, 3, 7, 12, 0), 3) == [
        "03-08 03:30 EDT",
        "03-09 02:30 EDT",
        "03-10 02:30 EDT",
    ]


def test_at_in_the_repeated_autumn_hour_runs_once() -> None:
    assert fires(NEW_YORK, AtTrigger(1, 30), local(NEW_YORK, 2026, 10, 31, 12, 0), 3) == [
        "11-01 01:30 EDT",
        "11-02 01:30 EST",
        "11-03 01:30 EST",
    ]


def test_cron_daily_runs_once_in_the_repeated_hour_but_hourly_runs_every_hour() -> None:
    assert fires(BERLIN, CronTrigger("30 2 * * *"), local(BERLIN, 2026, 10, 24, 12, 0), 2) == [
        "10-25 02:30 CEST",
        "10-26 02:30 CET",
    ]
    hourly = fires(BERLIN, CronTrigger("0 * * * *"), local(BERLIN, 2026, 10, 25, 0, 30), 4)
    assert hourly == ["10-25 01:00 CEST", "10-25 02:00 CEST", "10-25 02:00 CET", "10-25 03:00 CET"]


def test_cron_weekdays() -> None:
    # 2026-11-27 is a Friday: the next weekday 08:15 after Friday noon is Monday.
    assert fires(BERLIN, CronTrigger("15 8 * * 1-5"), local(BERLIN, 2026, 11, 27, 12, 0), 1) == [
        "11-30 08:15 CET"
    ]


@pytest.mark.parametrize("offset", [0, -30, 45])
def test_sun_follows_astral_with_offset_across_dst(offset: int) -> None:
    observer = astral.Observer(52.52, 13.40)
    start = local(BERLIN, 2026, 3, 27, 12, 0)
    when = start
    for day in (date(2026, 3, 27), date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)):
        expected = astral.sun.sunset(observer, day, tzinfo=BERLIN.tz) + timedelta(minutes=offset)
        following = next_fire(SunTrigger(SunEvent.SUNSET, offset), when, BERLIN)
        assert following is not None and following == pytest.approx(expected.timestamp())
        when = following
    # Across the change, local sunset moves by about an hour, not by the usual ~2 minutes.
    sat = BERLIN.local(next_fire(SunTrigger(SunEvent.SUNSET), local(BERLIN, 2026, 3, 28, 12, 0), BERLIN) or 0)
    sun = BERLIN.local(next_fire(SunTrigger(SunEvent.SUNSET), local(BERLIN, 2026, 3, 29, 12, 0), BERLIN) or 0)
    assert 55 <= (sun.hour * 60 + sun.minute) - (sat.hour * 60 + sat.minute) <= 65


def test_sunrise_in_polar_night_waits_for_the_sun() -> None:
    tromso = Place("Europe/Oslo", 69.65, 18.96)
    start = local(tromso, 2026, 12, 10, 12, 0)
    following = next_fire(SunTrigger(SunEvent.SUNRISE), start, tromso)
    assert following is not None
    assert tromso.local(following).date() >= date(2027, 1, 10)


def window(
    after: str | None, before: str | None, days: frozenset[int] = frozenset(range(7))
) -> TimeCondition:
    def point(text: str | None) -> TimePoint | None:
        if text is None:
            return None
        if text in ("sunrise", "sunset"):
            return TimePoint(sun=SunEvent(text))
        hours, minutes = text.split(":")
        return TimePoint(minutes=int(hours) * 60 + int(minutes))

    return TimeCondition(point(after), point(before), days)


@pytest.mark.parametrize(
    ("hour", "minute", "inside"),
    [
        (21, 59, False),
        (22, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_window_wrapping_midnight(hour: int, minute: int, inside: bool) -> None:
    assert in_window(window("22:00", "06:00"), local(BERLIN, 2026, 11, 24, hour, minute), BERLIN) is inside


def test_window_not_wrapping_and_open_ended() -> None:
    ts = local(BERLIN, 2026, 11, 24, 9, 0)
    assert in_window(window("08:00", "17:00"), ts, BERLIN)
    assert not in_window(window("10:00", "17:00"), ts, BERLIN)
    assert in_window(window("08:00", None), ts, BERLIN)
    assert not in_window(window(None, "08:00"), ts, BERLIN)


def test_sun_window_after_sunset_before_sunrise() -> None:
    night = window("sunset", "sunrise")
    assert in_window(night, local(BERLIN, 2026, 11, 24, 23, 0), BERLIN)
    assert in_window(night, local(BERLIN, 2026, 11, 24, 3, 0), BERLIN)
    assert not in_window(night, local(BERLIN, 2026, 11, 24, 12, 0), BERLIN)
    # On the DST day the window still follows the local sun.
    assert in_window(night, local(BERLIN, 2026, 3, 29, 20, 0), BERLIN)
    assert not in_window(night, local(BERLIN, 2026, 3, 29, 19, 0), BERLIN)


def test_weekdays_in_a_wrapping_window_belong_to_the_evening_it_opened() -> None:
    friday_night = window("22:00", "06:00", frozenset({4}))  # Friday = 4
    assert in_window(friday_night, local(BERLIN, 2026, 11, 27, 23, 0), BERLIN)  # Friday 23:00
    assert in_window(friday_night, local(BERLIN, 2026, 11, 28, 2, 0), BERLIN)  # Saturday 02:00
    assert not in_window(friday_night, local(BERLIN, 2026, 11, 28, 23, 0), BERLIN)  # Saturday 23:00


def test_zone_is_used_not_utc() -> None:
    assert ZoneInfo("Europe/Berlin") == BERLIN.tz
    ts = datetime(2026, 11, 24, 22, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # 23:30 in Berlin
    assert in_window(window("23:00", None), ts, BERLIN)
    assert not in_window(window("23:00", None), ts, Place("UTC"))
