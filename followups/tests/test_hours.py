"""Due times move into the tenant's working hours, in its own timezone: evenings and
weekends move to the next opening, holidays are skipped, DST changes are respected."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from followups.models import FollowUp

pytestmark = pytest.mark.django_db

JKT = ZoneInfo("Asia/Jakarta")
AMS = ZoneInfo("Europe/Amsterdam")


def _schedule(client, conversation_id, due_at: dt.datetime, **extra):
    resp = client.post(
        "/api/v1/followup/schedule",
        {"conversation_id": str(conversation_id), "text": "Halo!", "due_at": due_at.isoformat(), **extra},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    return dt.datetime.fromisoformat(resp.json()["due_at"])


@pytest.fixture
def conversation(tenant, make_channel):
    from chat.channels.services import conversation_for

    return conversation_for(channel=make_channel(tenant, "telegram"), user_id="5550001")


def test_it_moves_a_22_00_jakarta_follow_up_to_09_00_the_next_working_day(client_a, conversation):
    # Wednesday 22:00 → Thursday 09:00; Friday 22:00 → Monday 09:00 (Jakarta, UTC+7).
    assert _schedule(client_a, conversation.pk, dt.datetime(2026, 11, 25, 22, 0, tzinfo=JKT)) == dt.datetime(
        2026, 11, 26, 9, 0, tzinfo=JKT
    )
    assert _schedule(client_a, conversation.pk, dt.datetime(2026, 11, 27, 22, 0, tzinfo=JKT)) == dt.datetime(
        2026, 11, 30, 9, 0, tzinfo=JKT
    )
    followup = FollowUp.objects.order_by("created_at").first()
    assert followup.requested_due_at == dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


def test_it_keeps_a_due_time_inside_working_hours_or_when_asked_to_ignore_them(client_a, conversation):
    inside = dt.datetime(2026, 11, 25, 10, 30, tzinfo=JKT)
    assert _schedule(client_a, conversation.pk, inside) == inside
    night = dt.datetime(2026, 11, 25, 23, 0, tzinfo=JKT)
    assert _schedule(client_a, conversation.pk, night, respect_working_hours=False) == night


def test_it_skips_a_holiday(client_a, tenant, conversation):
    tenant.holidays = ["2026-12-24", "2026-12-25"]
    tenant.save()
    # Wednesday 23 Dec 20:00 → Thursday and Friday are holidays → Monday 28 Dec 09:00.
    assert _schedule(client_a, conversation.pk, dt.datetime(2026, 12, 23, 20, 0, tzinfo=JKT)) == dt.datetime(
        2026, 12, 28, 9, 0, tzinfo=JKT
    )


def test_it_follows_amsterdam_across_the_dst_changes(client_a, tenant, conversation):
    tenant.timezone = "Europe/Amsterdam"
    tenant.save()
    # Clocks go forward on Sunday 29 March 2026: Monday 09:00 is CEST (UTC+2) = 07:00 UTC,
    # while the Friday evening it was scheduled from was still CET (UTC+1).
    spring = _schedule(client_a, conversation.pk, dt.datetime(2026, 3, 27, 19, 0, tzinfo=AMS))
    assert spring == dt.datetime(2026, 3, 30, 7, 0, tzinfo=dt.UTC)
    assert spring.astimezone(AMS).hour == 9
    # Clocks go back on Sunday 25 October 2026: Monday 09:00 is CET (UTC+1) = 08:00 UTC.
    autumn = _schedule(client_a, conversation.pk, dt.datetime(2026, 10, 23, 18, 0, tzinfo=AMS))
    assert autumn == dt.datetime(2026, 10, 26, 8, 0, tzinfo=dt.UTC)
    assert autumn.astimezone(AMS).hour == 9
