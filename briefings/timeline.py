"""Dates in the text: what a sentence says happened when, resolved against its article's date where relative.

"On February 12", "in March 2025", "in 2018", "yesterday", "last week", "on Tuesday": each becomes a date with the
precision the text gives (a day, a month or a year). A month and day without a year take the article's year (the
year before, when that would put the day well after the article). Relative dates need the article's date; without
one they are skipped rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"  # noqa: E501
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d|,\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_PATTERNS = (
    ("day", re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR})?")),  # February 12, 2025 / February 12
    ("day", re.compile(rf"\b{_DAY}\s+{_MONTH}(?:,?\s+{_YEAR})?\b")),  # 12 February 2025
    ("month", re.compile(rf"\b(?i:in|since|by|until|from|of|early|late|mid-?)\s+{_MONTH}(?:,?\s+{_YEAR})?\b")),
    ("year", re.compile(rf"(?<![\d$£€,.])\b(?:in|since|by|until|from|during|of|early|late|mid-?)\s+{_YEAR}\b", re.I)),
    ("relative", re.compile(r"\b(?P<rel>yesterday|today|last (?:week|month|year)|this (?:week|month|year))\b", re.I)),
    ("weekday", re.compile(r"\b(?:on|last)\s+(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")),
)
LATE_DAYS = 45  # a "June 3" more than this after the article's date is last year's June 3


@dataclass(frozen=True)
class TextDate:
    """A date as precise as the text: day, month or year (the finer fields are then 0)."""

    year: int
    month: int = 0
    day: int = 0

    @property
    def precision(self) -> str:
        return "day" if self.day else "month" if self.month else "year"

    def label(self) -> str:
        if self.day:
            return date(self.year, self.month, self.day).strftime("%-d %b %Y")
        if self.month:
            return date(self.year, self.month, 1).strftime("%b %Y")
        return str(self.year)

    def iso(self) -> str:
        month = f"-{self.month:02d}" if self.month else ""
        return f"{self.year:04d}{month}" + (f"-{self.day:02d}" if self.day else "")


def article_date(published: str | None) -> date | None:
    """The article's date from its `published` field (an ISO date or timestamp), when it has one."""
    if not published:
        return None
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", published.strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def find_date(text: str, published: date | None) -> TextDate | None:
    """The first date the sentence names, resolved against the article's date; None when it names none."""
    found: list[tuple[int, TextDate]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            resolved = _resolve(kind, match, published)
            if resolved is not None:
                found.append((match.start(), resolved))
                break
    if not found:
        return None
    # the most precise date first ("this year - one on February 12": February 12), then the first named
    found.sort(key=lambda x: (not x[1].day, not x[1].month, x[0]))
    return found[0][1]


def _resolve(kind: str, match: re.Match[str], published: date | None) -> TextDate | None:
    groups = match.groupdict()
    year = int(groups["year"]) if groups.get("year") else None
    if kind in {"day", "month"}:
        month = _MONTHS[groups["month"].lower().rstrip(".")]
        day = int(groups["day"]) if groups.get("day") else 0
        if year is None:
            if published is None:
                return None
            year = published.year
            if day and _valid(year, month, day) and date(year, month, day) > published + timedelta(days=LATE_DAYS):
                year -= 1
        if day and not _valid(year, month, day):
            return None
        return TextDate(year, month, day)
    if kind == "year":
        return TextDate(year) if year else None
    if published is None:
        return None
    if kind == "weekday":
        wanted = _WEEKDAYS.index(groups["weekday"].lower())
        back = (published.weekday() - wanted) % 7 or 7
        when = published - timedelta(days=back)
        return TextDate(when.year, when.month, when.day)
    rel = groups["rel"].lower()
    if rel == "yesterday":
        when = published - timedelta(days=1)
        return TextDate(when.year, when.month, when.day)
    if rel == "today":
        return TextDate(published.year, published.month, published.day)
    if rel.endswith("year"):
        return TextDate(published.year - (1 if rel.startswith("last") else 0))
    if rel.endswith("month"):
        first = published.replace(day=1)
        when = first - timedelta(days=1) if rel.startswith("last") else first
        return TextDate(when.year, when.month)
    when = published - timedelta(days=7 if rel.startswith("last") else 0)  # a week: its Monday's month
    return TextDate(when.year, when.month)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
