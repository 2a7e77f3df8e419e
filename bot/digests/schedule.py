"""When digests fire: the `/digest subscribe` grammar, fire times, and the minimum spacing between digests.

Pure: no I/O, no clock of its own (callers pass `now`). Accepted forms, each optionally followed by an IANA
timezone and the word `quiet`:

    daily 08:00 | weekdays 07:30 | weekends 10:00 | weekly mon 09:00 | weekly mon,thu 09:00
    every 6h | every 90m | every 1d | hourly | 5-field cron (minute hour day month weekday)

Cron weekdays follow crontab (0 or 7 = Sunday, 1 = Monday), not APScheduler 3's own numbering (0 = Monday).
Wall-clock schedules run in the subscription's timezone: a time skipped by a DST change fires once, an hour late
in wall-clock terms; a time that happens twice fires once, at its first occurrence. `every` intervals count
elapsed time from the subscription's anchor, so DST does not stretch or shrink them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

EXAMPLES = (
    "daily 08:00",
    "weekdays 07:30 Europe/Berlin",
    "weekly mon 09:00",
    "every 6h",
    "0 8 * * 1-5 America/New_York",
    "daily 18:00 quiet",
)
# How far ahead the spacing check looks, and how many fire times per schedule it walks at most.
SPACING_HORIZON = timedelta(days=400)
SPACING_MAX_FIRES = 10_000
_ONE_MICROSECOND = timedelta(microseconds=1)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's names, Monday first
_DAY_ALIASES = {
    **{d: d for d in _WEEKDAYS},
    "monday": "mon",
    "tues": "tue",
    "tuesday": "tue",
    "wednesday": "wed",
    "thur": "thu",
    "thurs": "thu",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 (and 7) = Sunday
_UNITS = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_UNIT_SUFFIX = {60: "m", 3600: "h", 86400: "d"}
_TIME = re.compile(r"(\d{1,2}):(\d{2})\Z")
_EVERY = re.compile(r"(\d+)\s*([a-z]+)\Z")
_CRON_FIELD = re.compile(r"[0-9*][0-9a-z*,/-]*\Z")
_CRON_DAY_FIELD = re.compile(r"[0-9a-z*][0-9a-z*,/-]*\Z")
_ZONE_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)+\Z")
_KEYWORDS = frozenset({"daily", "weekdays", "weekends", "weekly", "every", "hourly", "cron", "quiet"})
_MONTHS = frozenset({"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"})


class ScheduleError(ValueError):
    """A schedule the user typed that cannot be used. The message is shown as it is and ends with examples."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem} {examples_hint()}")
        self.problem = problem


def examples_hint() -> str:
    return "Examples: " + ", ".join(f"`{e}`" for e in EXAMPLES) + "."


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: `when` is its canonical text (what the store keeps), `timezone` an IANA name."""

    when: str
    timezone: str
    cron: str | None = None  # APScheduler-ready: weekdays as names, so no numbering can be misread
    every: timedelta | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def describe(self) -> str:
        """'weekdays 07:30 (Europe/Berlin)'; intervals need no zone."""
        return self.when if self.every is not None else f"{self.when} ({self.timezone})"

    def trigger(self, anchor: datetime) -> DigestTrigger:
        """The APScheduler trigger; `anchor` (the subscription's start) fixes where `every` intervals fall."""
        return DigestTrigger(self, anchor)

    def next_fire_time(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first fire time strictly after `after`, in UTC."""
        return self.trigger(anchor).next_after(after)

    def fire_times(
        self, after: datetime, until: datetime, anchor: datetime, *, limit: int | None = None
    ) -> list[datetime]:
        """Fire times in (after, until], oldest first, in UTC; with `limit`, only the first `limit` of them."""
        out: list[datetime] = []
        for fire in self.trigger(anchor).iter_after(after):
            if fire > until or (limit is not None and len(out) >= limit):
                break
            out.append(fire)
        return out


class DigestTrigger(BaseTrigger):
    """A schedule as an APScheduler trigger: cron in its zone minus repeated wall times, or an elapsed interval."""

    def __init__(self, schedule: Schedule, anchor: datetime) -> None:
        self.schedule = schedule
        if schedule.every is not None:
            # UTC: an interval is elapsed time, never wall-clock arithmetic across a DST change.
            self._inner: BaseTrigger = IntervalTrigger(
                seconds=int(schedule.every.total_seconds()), start_date=anchor.astimezone(UTC), timezone=UTC
            )
        else:
            assert schedule.cron is not None
            self._inner = CronTrigger.from_crontab(schedule.cron, timezone=schedule.zone)

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire: datetime | None = self._inner.get_next_fire_time(previous_fire_time, now)
        while fire is not None and self.schedule.every is None and _repeated_wall_time(fire):
            fire = self._inner.get_next_fire_time(fire, fire)
        return fire

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after`, in UTC."""
        fire = self.get_next_fire_time(None, after + _ONE_MICROSECOND)
        return fire.astimezone(UTC) if fire is not None else None

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after `after`, in UTC: aware datetimes in one ZoneInfo subtract as wall time."""
        fire = self.get_next_fire_time(None, after + _ONE_MICROSECOND)
        while fire is not None:
            yield fire.astimezone(UTC)
            fire = self.get_next_fire_time(fire, fire)

    def __str__(self) -> str:
        return f"digest[{self.schedule.describe()}]"

    def __repr__(self) -> str:
        return f"<DigestTrigger {self.schedule.describe()!r}>"


def _repeated_wall_time(fire: datetime) -> bool:
    """True for the second occurrence of a wall time that a DST change repeats (02:30 on the autumn night)."""
    return fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


@dataclass(frozen=True)
class SubscriptionRequest:
    schedule: Schedule
    quiet: bool


# ---------------------------------------------------------------------------------------------- parsing
def parse_subscription(text: str, *, default_timezone: str) -> SubscriptionRequest:
    """`/digest subscribe`'s arguments: a schedule, then optionally a timezone and `quiet`, in any order at the end."""
    tokens = [t.strip("\"'`") for t in text.split()]
    tokens = [t for t in tokens if t]
    quiet = any(t.lower() == "quiet" for t in tokens)
    tokens = [t for t in tokens if t.lower() != "quiet"]
    timezone = default_timezone
    if tokens and _looks_like_zone(tokens[-1]):
        timezone = resolve_timezone(tokens.pop())
    return SubscriptionRequest(parse_schedule(" ".join(tokens), timezone), quiet)


def parse_schedule(when: str, timezone: str) -> Schedule:
    """A schedule from its text (no timezone or flags in it). Raises ScheduleError with a specific reason."""
    timezone = resolve_timezone(timezone)
    tokens = [t.lower() for t in when.split()]
    if not tokens:
        raise ScheduleError("Say when the digest should arrive.")
    head, rest = tokens[0], tokens[1:]
    if head in {"daily", "weekdays", "weekends"}:
        (at,) = _expect(rest, 1, f"`{head}` needs a time, e.g. `{head} 08:00`.")
        hour, minute = _time_of_day(at)
        days = {"daily": "*", "weekdays": "mon-fri", "weekends": "sat,sun"}[head]
        return Schedule(f"{head} {hour:02d}:{minute:02d}", timezone, cron=f"{minute} {hour} * * {days}")
    if head == "weekly":
        days_text, at = _expect(rest, 2, "`weekly` needs a day and a time, e.g. `weekly mon 09:00`.")
        days = _weekdays(days_text)
        hour, minute = _time_of_day(at)
        return Schedule(f"weekly {days} {hour:02d}:{minute:02d}", timezone, cron=f"{minute} {hour} * * {days}")
    if head == "hourly":
        if rest:
            raise ScheduleError("`hourly` takes nothing after it; for another interval use e.g. `every 2h`.")
        return Schedule("every 1h", timezone, every=timedelta(hours=1))
    if head == "every":
        return _every("".join(rest), timezone)
    if head == "cron":
        return _cron(rest, timezone)
    if _CRON_FIELD.match(head):
        return _cron(tokens, timezone)
    raise ScheduleError(f"I can't read `{_clip(when)}` as a schedule.")


def resolve_timezone(name: str) -> str:
    """The IANA name, matched without regard to case ('europe/berlin' -> 'Europe/Berlin')."""
    canonical = _zone_names().get(name.lower())
    if canonical is None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f"I don't know the timezone `{_clip(name)}`; use an IANA name such as Europe/Berlin, "
                "America/New_York or UTC."
            ) from None
        return name
    return canonical


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def _looks_like_zone(token: str) -> bool:
    """A trailing token meant as a timezone: 'Area/City', or a bare zone name such as UTC that no form uses."""
    lowered = token.lower()
    if lowered in _KEYWORDS or lowered.split("/")[0] in _DAY_ALIASES or lowered.split("/")[0] in _MONTHS:
        return False  # a schedule word, or a cron field with a step such as mon/2
    return bool(_ZONE_LIKE.match(token)) or token.lower() in _zone_names()


def _expect(tokens: list[str], count: int, message: str) -> list[str]:
    if len(tokens) < count:
        raise ScheduleError(message)
    if len(tokens) > count:
        extra = tokens[count]
        hint = " (a timezone is an IANA name such as Europe/Berlin)" if extra.isalpha() else ""
        raise ScheduleError(f"I don't understand `{_clip(extra)}` in that schedule{hint}.")
    return tokens


def _time_of_day(text: str) -> tuple[int, int]:
    match = _TIME.match(text)
    if not match:
        raise ScheduleError(f"`{_clip(text)}` is not a time of day; write it as HH:MM, e.g. 07:30.")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ScheduleError(f"`{text}` is not a time of day; use 00:00 to 23:59.")
    return hour, minute


def _weekdays(text: str) -> str:
    days: list[str] = []
    for part in text.split(","):
        day = _DAY_ALIASES.get(part.strip())
        if day is None:
            raise ScheduleError(f"`{_clip(part)}` is not a weekday; use mon, tue, wed, thu, fri, sat or sun.")
        if day not in days:
            days.append(day)
    return ",".join(sorted(days, key=_WEEKDAYS.index))


def _every(text: str, timezone: str) -> Schedule:
    match = _EVERY.match(text)
    if not match or match[2] not in _UNITS:
        raise ScheduleError(f"`every` needs a number and a unit (m, h or d), e.g. `every 6h`; got `{_clip(text)}`.")
    count = int(match[1])
    if count <= 0:
        raise ScheduleError(f"`every {count}{match[2]}` never repeats; use a number above 0, e.g. `every 6h`.")
    seconds = count * _UNITS[match[2]]
    if seconds > 366 * 86400:
        raise ScheduleError("That interval is longer than a year; use `weekly` or a cron schedule instead.")
    unit = next(u for u in (86400, 3600, 60) if seconds % u == 0)
    return Schedule(f"every {seconds // unit}{_UNIT_SUFFIX[unit]}", timezone, every=timedelta(seconds=seconds))


def _cron(fields: list[str], timezone: str) -> Schedule:
    if len(fields) != 5:
        raise ScheduleError(
            f"A cron schedule has 5 fields (minute hour day month weekday), e.g. `0 8 * * 1-5`; "
            f"`{_clip(' '.join(fields))}` has {len(fields)}."
        )
    minute, hour, day, month, weekday = fields
    for name, value in (("minute", minute), ("hour", hour), ("day", day)):
        if not _CRON_FIELD.match(value) or any(c.isalpha() for c in value):
            raise ScheduleError(f"The cron {name} field `{_clip(value)}` is not valid.")
    if not _CRON_DAY_FIELD.match(month) or not _CRON_DAY_FIELD.match(weekday):
        raise ScheduleError(f"The cron fields `{_clip(month)} {_clip(weekday)}` are not valid.")
    if day != "*" and weekday != "*":
        # crontab fires when EITHER matches, APScheduler when BOTH do: refuse rather than guess.
        raise ScheduleError(
            "A cron schedule with both a day of month and a weekday is read differently by different tools; "
            "restrict one of them and leave the other as `*`."
        )
    expression = f"{minute} {hour} {day} {month} {_crontab_weekdays(weekday)}"
    try:
        trigger = CronTrigger.from_crontab(expression, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise ScheduleError(f"That cron schedule is not valid: {exc}.") from None
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ScheduleError(f"The cron schedule `{' '.join(fields)}` never fires.")
    return Schedule("cron " + " ".join(fields), timezone, cron=expression)


def _crontab_weekdays(field: str) -> str:
    """A crontab weekday field (0/7 = Sunday) as APScheduler weekday names, so 1-5 stays Monday to Friday."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        body, _, step_text = item.partition("/")
        step = _cron_number(step_text, "weekday step", 1, 7) if step_text else 1
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            start, _, end = body.partition("-")
            first, last = _crontab_day(start), _crontab_day(end)
            if last == 0 and first > 0:  # "5-7" and "fri-sun" end on Sunday
                last = 7
            if first > last:
                raise ScheduleError(f"The cron weekday range `{_clip(body)}` runs backwards.")
        else:
            first = _crontab_day(body)
            last = 6 if step_text else first
        days.update(d % 7 for d in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(_CRONTAB_DAYS[d] for d in sorted(days, key=lambda d: (d - 1) % 7))


def _crontab_day(text: str) -> int:
    if text.isdigit():
        return _cron_number(text, "weekday", 0, 7) % 7 if text != "7" else 7
    day = _DAY_ALIASES.get(text)
    if day is None:
        raise ScheduleError(f"`{_clip(text)}` is not a weekday; use 0-7 (0 and 7 are Sunday) or mon..sun.")
    return _CRONTAB_DAYS.index(day)


def _cron_number(text: str, what: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleError(f"The cron {what} `{_clip(text)}` is out of range ({low}-{high}).")
    return int(text)


def _clip(text: str, limit: int = 40) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- spacing
def check_spacing(schedules: Sequence[tuple[Schedule, datetime]], min_interval: timedelta, start: datetime) -> None:
    """Refuse schedules that, together, would post in one channel less than `min_interval` apart.

    Walks real fire times (so DST changes count) from `start` over SPACING_HORIZON, and separately over a few
    days around each DST change of the zones involved. `schedules` pairs each schedule with its anchor.
    """
    if not schedules:
        return
    spans = [(start, start + SPACING_HORIZON)]
    for zone in {s.timezone for s, _ in schedules if s.every is None}:
        spans += [(t - timedelta(days=2), t + timedelta(days=2)) for t in _offset_changes(zone, start)]
    for span_start, span_end in spans:
        end = span_end
        merged: list[datetime] = []
        for schedule, anchor in schedules:
            fires = schedule.fire_times(span_start, span_end, anchor, limit=SPACING_MAX_FIRES)
            if not fires:
                continue
            if len(fires) == SPACING_MAX_FIRES:
                end = min(end, fires[-1])  # compare only where every schedule was walked in full
            merged += fires
        merged = sorted(f for f in merged if f <= end)
        for earlier, later in itertools.pairwise(merged):
            if later - earlier < min_interval:
                shown_in = schedules[-1][0].zone
                raise ScheduleError(
                    f"Digests in a channel must be at least {format_duration(min_interval)} apart, and this "
                    f"channel's digests would arrive at {format_time(earlier, shown_in)} and again at "
                    f"{format_time(later, shown_in)}."
                )


def _offset_changes(zone_name: str, start: datetime) -> list[datetime]:
    """Days (as UTC midnights) within the horizon on which the zone's UTC offset changes."""
    zone = ZoneInfo(zone_name)
    changes = []
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    offset = day.astimezone(zone).utcoffset()
    for _ in range(SPACING_HORIZON.days + 1):
        day += timedelta(days=1)
        current = day.astimezone(zone).utcoffset()
        if current != offset:
            changes.append(day)
            offset = current
    return changes


def format_duration(interval: timedelta) -> str:
    """'1 hour', '90 minutes', '1 minute', '2 days'."""
    seconds = int(interval.total_seconds())
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {name}" + ("" if count == 1 else "s")
    return f"{seconds} seconds"  # pragma: no cover  # every whole number of seconds matched above


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Mon 2 Mar 2026, 08:00 CET' in the given zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}"
