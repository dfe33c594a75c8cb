"""Working hours in a tenant's own timezone.

``working_hours`` maps weekday keys (``mon`` … ``sun``) to a list of ``["HH:MM", "HH:MM"]``
ranges; ``holidays`` is a list of ``YYYY-MM-DD`` dates on which the business is closed.
A range may end at ``24:00``. Computations happen on local wall-clock times and are
converted with :mod:`zoneinfo`, so DST changes are handled: a wall time that does not
exist (spring forward) moves to the first valid instant after it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class HoursError(ValueError):
    pass


def _parse_time(value: str) -> dt.time | None:
    """``HH:MM`` → time; ``24:00`` → None (end of day)."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise HoursError(f"{value!r} is not a HH:MM time")
    hh, mm = value[:2], value[3:]
    if not (hh.isdigit() and mm.isdigit()):
        raise HoursError(f"{value!r} is not a HH:MM time")
    h, m = int(hh), int(mm)
    if (h, m) == (24, 0):
        return None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise HoursError(f"{value!r} is not a valid time of day")
    return dt.time(h, m)


def validate_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise HoursError(f"{name!r} is not a known IANA timezone") from None


def validate_working_hours(hours: object) -> dict[str, list[list[str]]]:
    """Check shape and ranges; return a normalised copy (sorted ranges, no overlap)."""
    if not isinstance(hours, dict):
        raise HoursError("working hours must be an object keyed by weekday (mon..sun)")
    normal: dict[str, list[list[str]]] = {}
    for day, ranges in hours.items():
        if day not in WEEKDAYS:
            raise HoursError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        if not isinstance(ranges, list):
            raise HoursError(f"{day}: expected a list of [start, end] ranges")
        parsed = []
        for rng in ranges:
            if not (isinstance(rng, (list, tuple)) and len(rng) == 2):
                raise HoursError(f'{day}: each range must be ["HH:MM", "HH:MM"]')
            start, end = _parse_time(rng[0]), _parse_time(rng[1])
            if start is None:
                raise HoursError(f"{day}: a range cannot start at 24:00")
            end_minutes = 24 * 60 if end is None else end.hour * 60 + end.minute
            start_minutes = start.hour * 60 + start.minute
            if end_minutes <= start_minutes:
                raise HoursError(f"{day}: range {rng[0]}-{rng[1]} ends before it starts")
            parsed.append((start_minutes, end_minutes, [rng[0], rng[1]]))
        parsed.sort()
        for (_s1, e1, r1), (s2, _e2, r2) in zip(parsed, parsed[1:], strict=False):
            if s2 < e1:
                raise HoursError(f"{day}: ranges {r1[0]}-{r1[1]} and {r2[0]}-{r2[1]} overlap")
        normal[day] = [r for _s, _e, r in parsed]
    return normal


def validate_holidays(holidays: object) -> list[str]:
    if not isinstance(holidays, list):
        raise HoursError("holidays must be a list of YYYY-MM-DD dates")
    out = []
    for item in holidays:
        try:
            out.append(dt.date.fromisoformat(item).isoformat())
        except (TypeError, ValueError):
            raise HoursError(f"{item!r} is not a YYYY-MM-DD date") from None
    return sorted(set(out))


def _minutes_ranges(hours: dict, day: dt.date, holidays: set[str]) -> list[tuple[int, int]]:
    if day.isoformat() in holidays:
        return []
    out = []
    for start, end in hours.get(WEEKDAYS[day.weekday()], []):
        s = _parse_time(start)
        e = _parse_time(end)
        out.append((s.hour * 60 + s.minute, 24 * 60 if e is None else e.hour * 60 + e.minute))
    return sorted(out)


def _exists(naive: dt.datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) == naive


def _local_to_aware(day: dt.date, minutes: int, tz: ZoneInfo) -> dt.datetime:
    """Wall time on ``day`` → aware datetime. A wall time skipped by a DST change moves to
    the first wall time that exists after it (02:30 on a spring-forward night → 03:00);
    an ambiguous one (autumn) takes its first occurrence."""
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
    for _ in range(24 * 60):
        if _exists(naive, tz):
            return naive.replace(tzinfo=tz, fold=0)
        naive += dt.timedelta(minutes=1)
    raise HoursError("no valid local time found")  # pragma: no cover - no zone has a day-long gap


def is_open(at: dt.datetime, *, tz_name: str, hours: dict, holidays: list[str]) -> bool:
    """Whether the business is open at instant ``at`` (aware)."""
    if at.tzinfo is None:
        raise ValueError("is_open needs an aware datetime")
    tz = validate_timezone(tz_name)
    try:
        local = at.astimezone(tz)
    except OverflowError:
        return False  # an instant at the very end of the calendar, past any opening
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(start <= minute < end for start, end in _minutes_ranges(hours, local.date(), set(holidays)))


def next_opening(
    after: dt.datetime, *, tz_name: str, hours: dict, holidays: list[str], horizon_days: int = 400
) -> dt.datetime | None:
    """The first instant at or after ``after`` when the business is open.

    Returns ``after`` itself when already open, ``None`` when no opening exists within
    ``horizon_days`` (for example, no hours configured at all).
    """
    if after.tzinfo is None:
        raise ValueError("next_opening needs an aware datetime")
    if is_open(after, tz_name=tz_name, hours=hours, holidays=holidays):
        return after
    tz = validate_timezone(tz_name)
    holiday_set = set(holidays)
    try:
        local = after.astimezone(tz)
        for offset in range(horizon_days + 1):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in _minutes_ranges(hours, day, holiday_set):
                candidate = _local_to_aware(day, start, tz)
                if candidate >= after:
                    return candidate.astimezone(dt.UTC)
    except OverflowError:
        # The search ran off either end of the calendar (year 1 or 9999): no opening there.
        return None
    return None


def hours_to_text(hours: dict) -> str:
    """``{"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}`` → ``mon: 09:00-12:00, 13:00-17:00``
    (one line per weekday, in week order; a day without ranges is left out)."""
    lines = []
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        if ranges:
            lines.append(f"{day}: " + ", ".join(f"{start}-{end}" for start, end in ranges))
    return "\n".join(lines)


def hours_from_text(text: str) -> dict[str, list[list[str]]]:
    """The inverse of :func:`hours_to_text`, validated. Blank lines are ignored; a day
    written ``sun: closed`` (or with nothing after the colon) has no hours."""
    hours: dict[str, list[list[str]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        day, sep, rest = line.partition(":")
        day = day.strip().lower()
        if not sep:
            raise HoursError(f"line {number}: expected 'mon: 09:00-17:00', got {line!r}")
        if day not in WEEKDAYS:
            raise HoursError(f"line {number}: unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
        if day in hours:
            raise HoursError(f"line {number}: {day} appears twice")
        rest = rest.strip()
        ranges: list[list[str]] = []
        if rest and rest.lower() != "closed":
            for part in rest.split(","):
                start, dash, end = part.strip().partition("-")
                if not dash:
                    raise HoursError(f"line {number}: expected a range like 09:00-17:00, got {part.strip()!r}")
                ranges.append([start.strip(), end.strip()])
        hours[day] = ranges
    return validate_working_hours({day: r for day, r in hours.items() if r})


def holidays_from_text(text: str) -> list[str]:
    """Dates separated by new lines or commas → a validated, sorted list."""
    items = [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]
    return validate_holidays(items)
