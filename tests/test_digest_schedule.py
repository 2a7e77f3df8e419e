"""The schedule grammar, fire times across DST changes, and the minimum spacing between a channel's digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.schedule import (
    EXAMPLES,
    ScheduleError,
    check_spacing,
    format_duration,
    parse_schedule,
    parse_subscription,
)

START = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday
HOUR = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(when: str, timezone: str, after: datetime, count: int, anchor: datetime = START) -> list[datetime]:
    schedule = parse_schedule(when, timezone)
    return schedule.fire_times(after, after + timedelta(days=400), anchor, limit=count)


@pytest.mark.parametrize(
    ("text", "when", "timezone", "quiet"),
    [
        ("daily 08:00", "daily 08:00", "UTC", False),
        ("daily 8:05", "daily 08:05", "UTC", False),
        ("weekdays 07:30 Europe/Berlin", "weekdays 07:30", "Europe/Berlin", False),
        ("weekends 10:00 quiet", "weekends 10:00", "UTC", True),
        ("weekly mon 09:00", "weekly mon 09:00", "UTC", False),
        ("weekly Thursday,mon 09:00 america/new_york", "weekly mon,thu 09:00", "America/New_York", False),
        ("every 6h", "every 6h", "UTC", False),
        ("every 90 minutes", "every 90m", "UTC", False),
        ("every 120m", "every 2h", "UTC", False),
        ("every 1d quiet Asia/Tokyo", "every 1d", "Asia/Tokyo", True),
        ("hourly", "every 1h", "UTC", False),
        ("0 8 * * 1-5", "cron 0 8 * * 1-5", "UTC", False),
        ("'0 8 * * 1-5' America/New_York", "cron 0 8 * * 1-5", "America/New_York", False),
        ("cron */30 6-18 * * *", "cron */30 6-18 * * *", "UTC", False),
        ("quiet 0 9 1 * * UTC", "cron 0 9 1 * *", "UTC", True),
    ],
)
def test_accepted_forms_parse_to_a_canonical_schedule(text: str, when: str, timezone: str, quiet: bool) -> None:
    """Plain forms, cron, a trailing IANA zone (any case) and `quiet` parse to a canonical schedule."""
    request = parse_subscription(text, default_timezone="UTC")
    assert (request.schedule.when, request.schedule.timezone, request.quiet) == (when, timezone, quiet)
    assert parse_schedule(request.schedule.when, request.schedule.timezone) == request.schedule  # stored form reparses


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Say when"),
        ("   quiet ", "Say when"),
        ("garbage", "can't read `garbage`"),
        ("sometimes at noon", "can't read"),
        ("daily", "`daily` needs a time"),
        ("daily 25:00", "`25:00` is not a time of day; use 00:00 to 23:59"),
        ("daily 08:60", "`08:60` is not a time of day"),
        ("daily 8", "write it as HH:MM"),
        ("daily 08:00 tomorrow", "don't understand `tomorrow`"),
        ("daily 08:00 Berlin", "a timezone is an IANA name"),
        ("daily 08:00 Mars/Olympus_Mons", "don't know the timezone `Mars/Olympus_Mons`"),
        ("weekly 09:00", "`weekly` needs a day and a time"),
        ("weekly funday 09:00", "`funday` is not a weekday"),
        ("weekly mon,xyz 09:00", "`xyz` is not a weekday"),
        ("every", "`every` needs a number and a unit"),
        ("every 0h", "`every 0h` never repeats"),
        ("every 6x", "`every` needs a number and a unit"),
        ("every -1h", "`every` needs a number and a unit"),
        ("every 1.5h", "`every` needs a number and a unit"),
        ("every 400d", "longer than a year"),
        ("hourly please", "`hourly` takes nothing"),
        ("0 8 * *", "has 5 fields"),
        ("0 8 * * * *", "has 5 fields"),
        ("61 * * * *", "the last value (61) is higher than the maximum value (59)"),
        ("0 25 * * *", "cron schedule is not valid"),
        ("0 8 32 * *", "cron schedule is not valid"),
        ("*/0 * * * *", "Increment must be higher than 0"),
        ("0 8 * 13 *", "cron schedule is not valid"),
        ("0 8 * * 8", "weekday `8` is out of range"),
        ("0 8 * * funday", "`funday` is not a weekday"),
        ("0 8 * * 5-2", "runs backwards"),
        ("0 8 13 * 5", "both a day of month and a weekday"),
        ("0 8 31 2 *", "never fires"),
        ("x8 * * * *", "can't read"),
        ("cron a b c d e", "cron minute field `a` is not valid"),
    ],
)
def test_every_invalid_form_is_refused_with_a_reason_and_examples(text: str, problem: str) -> None:
    """Each invalid form raises ScheduleError naming the problem, followed by working examples."""
    with pytest.raises(ScheduleError) as caught:
        parse_subscription(text, default_timezone="UTC")
    assert problem in caught.value.problem
    assert str(caught.value).endswith("Examples: " + ", ".join(f"`{e}`" for e in EXAMPLES) + ".")


def test_every_example_in_the_help_parses() -> None:
    """The examples shown with every error are themselves valid."""
    for example in EXAMPLES:
        assert parse_subscription(example, default_timezone="UTC").schedule.when


def test_daily_berlin_keeps_local_time_across_both_dst_changes() -> None:
    """daily 08:00 Europe/Berlin stays 08:00 local: 07:00 UTC in winter, 06:00 UTC in summer, and back."""
    spring = fires("daily 08:00", "Europe/Berlin", utc(2026, 3, 27), 4)
    assert spring == [utc(2026, 3, 27, 7), utc(2026, 3, 28, 7), utc(2026, 3, 29, 6), utc(2026, 3, 30, 6)]
    autumn = fires("daily 08:00", "Europe/Berlin", utc(2026, 10, 23), 4)
    assert autumn == [utc(2026, 10, 23, 6), utc(2026, 10, 24, 6), utc(2026, 10, 25, 7), utc(2026, 10, 26, 7)]


def test_new_york_weekdays_follow_the_us_dst_dates() -> None:
    """weekdays 08:00 America/New_York moves from 13:00 to 12:00 UTC on 8 March and back on 1 November 2026."""
    march = fires("weekdays 08:00", "America/New_York", utc(2026, 3, 5), 3)
    assert march == [utc(2026, 3, 5, 13), utc(2026, 3, 6, 13), utc(2026, 3, 9, 12)]
    november = fires("weekdays 08:00", "America/New_York", utc(2026, 10, 30), 2)
    assert november == [utc(2026, 10, 30, 12), utc(2026, 11, 2, 13)]


def test_a_wall_time_skipped_or_repeated_by_dst_fires_exactly_once() -> None:
    """02:30 Berlin does not exist on 29 March (fires once, at 03:30 CEST) and happens twice on 25 October
    (fires once, at the first 02:30)."""
    spring = fires("daily 02:30", "Europe/Berlin", utc(2026, 3, 28), 3)
    assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    autumn = fires("daily 02:30", "Europe/Berlin", utc(2026, 10, 24), 3)
    assert autumn == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_hourly_cron_does_not_repeat_the_autumn_hour() -> None:
    """An hourly cron fires once at 02:00 on the night the clocks go back (as cron does), not twice."""
    night = fires("cron 0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 30), 4)
    assert night == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 2), utc(2026, 10, 25, 3), utc(2026, 10, 25, 4)]


def test_every_interval_is_elapsed_time_across_dst() -> None:
    """every 6h from its anchor stays exactly 6 hours apart through the spring change."""
    anchor = utc(2026, 3, 28, 20, 17)
    times = fires("every 6h", "Europe/Berlin", anchor, 4, anchor)
    assert times == [anchor + timedelta(hours=6 * n) for n in range(1, 5)]


def test_cron_weekdays_use_crontab_numbering() -> None:
    """1-5 is Monday to Friday and 0 and 7 are Sunday, as in crontab (APScheduler's own 0 is Monday)."""
    weekdays = fires("cron 0 8 * * 1-5", "UTC", START, 5)
    assert [t.strftime("%a") for t in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert {t.strftime("%a") for t in fires("cron 0 8 * * 0", "UTC", START, 3)} == {"Sun"}
    assert {t.strftime("%a") for t in fires("cron 0 8 * * 7", "UTC", START, 3)} == {"Sun"}
    assert [t.strftime("%a") for t in fires("cron 0 8 * * fri-sun", "UTC", utc(2026, 3, 2), 3)] == ["Fri", "Sat", "Sun"]


def test_apscheduler_sees_the_same_fire_times() -> None:
    """The trigger handed to APScheduler skips the repeated wall time too."""
    schedule = parse_schedule("daily 02:30", "Europe/Berlin")
    trigger = schedule.trigger(START)
    first = trigger.get_next_fire_time(None, utc(2026, 10, 25, 0))
    second = trigger.get_next_fire_time(first, first)
    assert first.astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert second.astimezone(UTC) == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize(
    ("schedules", "minimum", "accepted"),
    [
        (["every 30m"], HOUR, False),
        (["every 1h"], HOUR, True),
        (["every 1m"], timedelta(seconds=60), True),
        (["cron * * * * *"], timedelta(seconds=60), True),
        (["cron * * * * *"], HOUR, False),
        (["cron */30 6-18 * * *"], HOUR, False),
        (["cron 0,59 0,23 * * *"], HOUR, False),  # 23:59 and 00:00 of the next day
        (["daily 08:00", "daily 08:30"], HOUR, False),  # two subscriptions, one channel
        (["daily 08:00", "daily 09:00"], HOUR, True),
        (["daily 08:00", "weekly mon 08:30"], HOUR, False),  # clashes only on Mondays
        (["weekly mon 08:00", "cron 30 8 1 * *"], HOUR, False),  # clashes only when the 1st is a Monday
    ],
)
def test_spacing_between_a_channels_digests(schedules: list[str], minimum: timedelta, accepted: bool) -> None:
    """Schedules that together would post in one channel less than the minimum apart are refused."""
    parsed = [(parse_schedule(s, "UTC"), START) for s in schedules]
    if accepted:
        check_spacing(parsed, minimum, START)
    else:
        with pytest.raises(ScheduleError, match="must be at least"):
            check_spacing(parsed, minimum, START)


def test_spacing_counts_real_time_on_the_dst_night() -> None:
    """01:00 and 03:00 Berlin are 2 hours apart except on 29 March, when they are 1 real hour apart."""
    schedule = [(parse_schedule("cron 0 1,3 * * *", "Europe/Berlin"), START)]
    check_spacing(schedule, 2 * HOUR - timedelta(minutes=61), START)
    with pytest.raises(ScheduleError) as caught:
        check_spacing(schedule, 2 * HOUR, START)
    assert "Sun 29 Mar 2026, 01:00 CET and again at Sun 29 Mar 2026, 03:00 CEST" in caught.value.problem


def test_spacing_walks_the_dst_night_beyond_a_dense_schedules_reach() -> None:
    """A dense schedule (every 2 minutes in the 03:00 hour: 30 a day) is walked only so far (its 10,000 fires end
    before next spring); the DST night is walked on its own, so 01:59 and 03:00 Berlin, one real minute apart on
    28 Mar 2027, are refused at a 2-minute minimum even from April 2026."""
    start = datetime(2026, 4, 1, tzinfo=UTC)
    schedules = [(parse_schedule(s, "Europe/Berlin"), start) for s in ("cron */2 3 * * *", "cron 59 1 * * *")]
    assert schedules[0][0].fire_times(start, start + timedelta(days=400), start, limit=10_000)[-1] < utc(2027, 3, 1)
    with pytest.raises(ScheduleError) as caught:
        check_spacing(schedules, timedelta(minutes=2), start)
    assert "Sun 28 Mar 2027, 01:59 CET and again at Sun 28 Mar 2027, 03:00 CEST" in caught.value.problem
    check_spacing(schedules, timedelta(minutes=1), start)


def test_durations_read_naturally() -> None:
    """Minimum intervals are shown in the largest whole unit."""
    assert [format_duration(timedelta(seconds=s)) for s in (60, 3600, 5400, 86400, 7200)] == [
        "1 minute",
        "1 hour",
        "90 minutes",
        "1 day",
        "2 hours",
    ]
