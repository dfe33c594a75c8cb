"""Working hours in the tenant's own timezone, across DST changes, with holidays and
several ranges a day."""

from __future__ import annotations

import datetime as dt

import pytest

from tenants import hours

UTC = dt.UTC
WEEK = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def opened(at, tz="Asia/Jakarta", h=None, holidays=()):
    return hours.is_open(at, tz_name=tz, hours=WEEK if h is None else h, holidays=list(holidays))


def nxt(after, tz="Asia/Jakarta", h=None, holidays=()):
    return hours.next_opening(after, tz_name=tz, hours=WEEK if h is None else h, holidays=list(holidays))


def test_it_opens_and_closes_on_jakarta_wall_time():
    # Monday 2026-11-23; Jakarta is UTC+7 all year.
    assert not opened(utc(2026, 11, 23, 1, 59))
    assert opened(utc(2026, 11, 23, 2, 0))  # 09:00 WIB
    assert opened(utc(2026, 11, 23, 9, 59))
    assert not opened(utc(2026, 11, 23, 10, 0))  # 17:00 WIB: the end is exclusive
    assert not opened(utc(2026, 11, 28, 3, 0))  # Saturday


def test_it_finds_the_next_opening_over_a_weekend_in_jakarta():
    friday_evening = utc(2026, 11, 27, 11, 0)  # 18:00 WIB
    assert nxt(friday_evening) == utc(2026, 11, 30, 2, 0)  # Monday 09:00 WIB
    already_open = utc(2026, 11, 26, 5, 0)
    assert nxt(already_open) == already_open


def test_it_handles_several_ranges_a_day():
    split = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    lunch = utc(2026, 11, 23, 5, 30)  # 12:30 WIB
    assert not opened(lunch, h=split)
    assert nxt(lunch, h=split) == utc(2026, 11, 23, 6, 0)  # 13:00 WIB
    assert opened(utc(2026, 11, 23, 6, 0), h=split)
    assert nxt(utc(2026, 11, 23, 10, 0), h=split) == utc(2026, 11, 30, 2, 0)  # next Monday


def test_it_stays_closed_on_holidays():
    christmas = ["2026-12-25"]  # a Friday
    assert not opened(utc(2026, 12, 25, 3, 0), holidays=christmas)
    assert opened(utc(2026, 12, 24, 3, 0), holidays=christmas)
    thursday_evening = utc(2026, 12, 24, 11, 0)
    assert nxt(thursday_evening, holidays=christmas) == utc(2026, 12, 28, 2, 0)  # Monday


def test_it_follows_amsterdam_across_the_spring_switch():
    # 2026-03-29 02:00 CET → 03:00 CEST. 09:00 local is 08:00 UTC before, 07:00 UTC after.
    tz = "Europe/Amsterdam"
    assert opened(utc(2026, 3, 27, 8, 0), tz) and not opened(utc(2026, 3, 27, 7, 30), tz)  # Friday, CET
    assert opened(utc(2026, 3, 30, 7, 0), tz) and not opened(utc(2026, 3, 30, 6, 30), tz)  # Monday, CEST
    assert nxt(utc(2026, 3, 27, 17, 0), tz) == utc(2026, 3, 30, 7, 0)


def test_it_moves_an_opening_that_falls_in_the_spring_gap_to_the_first_valid_minute():
    tz = "Europe/Amsterdam"
    night = {"sun": [["02:30", "05:00"]]}  # 02:30 does not exist on 2026-03-29
    assert nxt(utc(2026, 3, 28, 22, 0), tz, night) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert opened(utc(2026, 3, 29, 1, 0), tz, night)
    assert opened(utc(2026, 3, 29, 2, 59), tz, night) and not opened(utc(2026, 3, 29, 3, 0), tz, night)


def test_it_follows_amsterdam_across_the_autumn_switch():
    # 2026-10-25 03:00 CEST → 02:00 CET. 09:00 local is 07:00 UTC before, 08:00 UTC after.
    tz = "Europe/Amsterdam"
    assert opened(utc(2026, 10, 23, 7, 0), tz)  # Friday, CEST
    assert not opened(utc(2026, 10, 26, 7, 30), tz) and opened(utc(2026, 10, 26, 8, 0), tz)  # Monday, CET
    assert nxt(utc(2026, 10, 23, 16, 0), tz) == utc(2026, 10, 26, 8, 0)
    # The repeated hour: 02:30 happens twice; the opening is the first, and both are open.
    night = {"sun": [["02:00", "04:00"]]}
    assert nxt(utc(2026, 10, 24, 20, 0), tz, night) == utc(2026, 10, 25, 0, 0)  # 02:00 CEST
    assert opened(utc(2026, 10, 25, 0, 30), tz, night) and opened(utc(2026, 10, 25, 1, 30), tz, night)
    assert opened(utc(2026, 10, 25, 2, 30), tz, night)  # 03:30 CET
    assert not opened(utc(2026, 10, 25, 3, 0), tz, night)  # 04:00 CET


def test_it_supports_ranges_ending_at_midnight_and_no_hours_at_all():
    late = {"sat": [["20:00", "24:00"]]}
    assert opened(utc(2026, 11, 28, 16, 59), h=late)  # 23:59 WIB Saturday
    assert not opened(utc(2026, 11, 28, 17, 0), h=late)  # 00:00 WIB Sunday
    assert nxt(utc(2026, 11, 28, 0, 0), h={}) is None


def test_it_refuses_naive_datetimes_and_unknown_zones():
    with pytest.raises(ValueError):
        hours.is_open(dt.datetime(2026, 1, 1), tz_name="UTC", hours=WEEK, holidays=[])
    with pytest.raises(ValueError):
        hours.next_opening(dt.datetime(2026, 1, 1), tz_name="UTC", hours=WEEK, holidays=[])
    with pytest.raises(hours.HoursError):
        hours.validate_timezone("Mars/Olympus")


@pytest.mark.django_db
def test_it_exposes_the_helpers_on_the_tenant(make_tenant):
    t = make_tenant("ams", timezone="Europe/Amsterdam", working_hours=WEEK, holidays=["2026-03-30"])
    assert not t.is_open(utc(2026, 3, 30, 9, 0))  # holiday Monday
    assert t.next_opening(utc(2026, 3, 30, 9, 0)) == utc(2026, 3, 31, 7, 0)


# --- the ends of the calendar ----------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ZONES = ["UTC", "Asia/Jakarta", "America/Los_Angeles", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"]
CALENDAR_ENDS = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(1, 1, 10)),
    st.datetimes(min_value=dt.datetime(9999, 12, 20), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)),
    st.datetimes(),
)


@settings(max_examples=300, deadline=None)
@given(at=CALENDAR_ENDS, tz=st.sampled_from(ZONES), every_day=st.booleans())
def test_it_never_overflows_at_the_ends_of_the_calendar(at, tz, every_day):
    h = {d: [["00:00", "24:00"]] for d in hours.WEEKDAYS} if every_day else WEEK
    instant = at.replace(tzinfo=UTC)
    open_now = hours.is_open(instant, tz_name=tz, hours=h, holidays=[])
    found = hours.next_opening(instant, tz_name=tz, hours=h, holidays=[])
    assert found is None or found >= instant
    if open_now:
        assert found == instant
