"""Follow-up API: schedule, idempotency, filters, pending, cancel, bad input, isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chat.channels.services import conversation_for
from followups.models import FollowUp

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(tenant, make_channel):
    return make_channel(tenant, "telegram")


@pytest.fixture
def conversation(channel):
    return conversation_for(channel=channel, user_id="5550001")


def _soon() -> str:
    return (timezone.now() + dt.timedelta(hours=2)).isoformat()


def _schedule(client, **body):
    return client.post("/api/v1/followup/schedule", body, format="json")


def test_it_schedules_a_follow_up_in_a_conversation(client_a, conversation):
    resp = _schedule(
        client_a,
        conversation_id=str(conversation.pk),
        text="Sudah sampai paketnya?",
        due_at=_soon(),
        respect_working_hours=False,
    )
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["status"] == "SCHEDULED" and data["conversation_id"] == str(conversation.pk)
    assert data["channel_id"] == str(conversation.channel_ref_id) and data["user_id"] == "5550001"
    assert data["cancel_on_reply"] is True and data["attempts"] == 0 and data["provider_message_ids"] == []
    assert client_a.get(f"/api/v1/followups/{data['id']}").json()["text"] == "Sudah sampai paketnya?"


def test_it_schedules_for_a_user_and_channel_opening_the_conversation(client_a, channel):
    resp = _schedule(
        client_a,
        user_id="777",
        channel_id=str(channel.pk),
        prompt="Ask how the order went.",
        delay_seconds=60,
        cancel_on_reply=False,
    )
    assert resp.status_code == 201, resp.json()
    followup = FollowUp.objects.get()
    assert followup.conversation.user_id == "777" and followup.conversation.channel_ref == channel
    assert followup.prompt and not followup.cancel_on_reply


def test_it_returns_the_existing_follow_up_for_a_repeated_idempotency_key(client_a, conversation):
    body = {"conversation_id": str(conversation.pk), "text": "hi", "due_at": _soon()}
    first = _schedule(client_a, idempotency_key="order-1-day-3", **body)
    again = _schedule(client_a, idempotency_key="order-1-day-3", **body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    header = client_a.post("/api/v1/followup/schedule", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1-day-3")
    assert header.status_code == 200 and header.json()["id"] == first.json()["id"]
    assert FollowUp.objects.count() == 1


def test_it_scopes_idempotency_keys_per_tenant(client_a, client_b, conversation, other_tenant, make_channel):
    other = conversation_for(channel=make_channel(other_tenant, "telegram"), user_id="1")
    a = _schedule(client_a, conversation_id=str(conversation.pk), text="a", due_at=_soon(), idempotency_key="k")
    b = _schedule(client_b, conversation_id=str(other.pk), text="b", due_at=_soon(), idempotency_key="k")
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"text": "hi"}, "due_at"),
        ({"text": "hi", "due_at": "tomorrow"}, "due_at"),
        ({"text": "hi", "due_at": "2026-11-23T09:00:00Z", "delay_seconds": 5}, "due_at"),
        ({"due_at": "2026-11-23T09:00:00Z"}, "text"),
        ({"text": "hi", "prompt": "and this", "due_at": "2026-11-23T09:00:00Z"}, "text"),
        ({"text": "hi", "delay_seconds": -1}, "delay_seconds"),
        ({"text": "hi", "due_at": "2026-11-23T09:00:00Z", "conversation_id": "not-a-uuid"}, "conversation_id"),
        (
            {"text": "hi", "due_at": "2026-11-23T09:00:00Z", "conversation_id": "00000000-0000-0000-0000-000000000000"},
            "conversation_id",
        ),
        ({"text": "hi", "due_at": "2026-11-23T09:00:00Z", "user_id": "1"}, "conversation_id"),
        (
            {
                "text": "hi",
                "due_at": "2026-11-23T09:00:00Z",
                "user_id": "1",
                "channel_id": "00000000-0000-0000-0000-000000000000",
            },
            "channel_id",
        ),
        ({"text": "hi", "due_at": "2026-11-23T09:00:00Z", "respect_working_hours": "maybe"}, "respect_working_hours"),
    ],
)
def test_it_rejects_bad_schedule_input_naming_the_field(client_a, conversation, body, field):
    if "conversation_id" not in body and "user_id" not in body:
        body = {**body, "conversation_id": str(conversation.pk)}
    resp = _schedule(client_a, **body)
    assert resp.status_code == 400, resp.json()
    assert field in resp.json()["error"]["fields"]
    assert not FollowUp.objects.exists()


def test_it_rejects_a_conversation_that_is_not_on_a_channel(client_a, tenant):
    from chat.models import Conversation

    api_conversation = Conversation.objects.create(tenant=tenant, user_id="u", channel="api")
    resp = _schedule(client_a, conversation_id=str(api_conversation.pk), text="hi", due_at=_soon())
    assert resp.status_code == 400 and "conversation_id" in resp.json()["error"]["fields"]


def test_it_lists_with_filters_and_pending(client_a, conversation):
    ids = [
        _schedule(
            client_a,
            conversation_id=str(conversation.pk),
            text=f"m{i}",
            respect_working_hours=False,
            due_at=(timezone.now() + dt.timedelta(days=i + 1)).isoformat(),
        ).json()["id"]
        for i in range(3)
    ]
    FollowUp.objects.filter(pk=ids[0]).update(status="SENT")
    assert {f["id"] for f in client_a.get("/api/v1/followup/pending").json()["results"]} == set(ids[1:])
    sent = client_a.get("/api/v1/followups", {"status": "sent"}).json()["results"]
    assert [f["id"] for f in sent] == [ids[0]]
    window = client_a.get(
        "/api/v1/followups",
        {
            "due_after": (timezone.now() + dt.timedelta(days=1, hours=12)).isoformat(),
            "due_before": (timezone.now() + dt.timedelta(days=2, hours=12)).isoformat(),
        },
    ).json()["results"]
    assert [f["id"] for f in window] == [ids[1]]
    by_conv = client_a.get("/api/v1/followups", {"conversation_id": str(conversation.pk), "status": "SCHEDULED,SENT"})
    assert len(by_conv.json()["results"]) == 3
    bad = client_a.get("/api/v1/followups", {"status": "LOST"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    assert client_a.get("/api/v1/followups", {"due_after": "soon"}).json()["error"]["fields"].keys() == {"due_after"}


def test_it_cancels_a_scheduled_follow_up_but_not_a_sent_one(client_a, conversation):
    fid = _schedule(client_a, conversation_id=str(conversation.pk), text="x", due_at=_soon()).json()["id"]
    resp = client_a.post(f"/api/v1/followups/{fid}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "CANCELED" and resp.json()["reason"] == "canceled"
    assert client_a.post(f"/api/v1/followups/{fid}/cancel").status_code == 200  # already canceled: same answer
    FollowUp.objects.filter(pk=fid).update(status="SENT")
    conflict = client_a.post(f"/api/v1/followups/{fid}/cancel")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "not_cancelable"


def test_it_hides_follow_ups_of_other_tenants(client_a, client_b, conversation):
    fid = _schedule(client_a, conversation_id=str(conversation.pk), text="x", due_at=_soon()).json()["id"]
    assert client_b.get(f"/api/v1/followups/{fid}").status_code == 404
    assert client_b.post(f"/api/v1/followups/{fid}/cancel").status_code == 404
    assert client_b.get("/api/v1/followups").json()["results"] == []
    assert client_b.get("/api/v1/followup/pending").json()["results"] == []
    # another tenant's conversation or channel cannot be targeted either
    stolen = _schedule(client_b, conversation_id=str(conversation.pk), text="x", due_at=_soon())
    assert stolen.status_code == 400 and "conversation_id" in stolen.json()["error"]["fields"]
    stolen = _schedule(client_b, user_id="1", channel_id=str(conversation.channel_ref_id), text="x", due_at=_soon())
    assert stolen.status_code == 400 and "channel_id" in stolen.json()["error"]["fields"]
    assert FollowUp.objects.get().status == "SCHEDULED"


def test_it_requires_the_followups_scope(make_client, tenant):
    client = make_client(tenant, scopes=["chat"])
    assert client.get("/api/v1/followups").status_code == 403
    assert client.post("/api/v1/followup/schedule", {}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("due_at", "tz"),
    [
        ("9999-12-31T23:59:59Z", "Asia/Jakarta"),
        ("0001-01-01T00:00:00Z", "America/Los_Angeles"),
        ("0001-01-01T00:00:00Z", "Pacific/Kiritimati"),
        ("2999-01-01T00:00:00Z", "Asia/Jakarta"),
        ("1990-01-01T00:00:00Z", "Asia/Jakarta"),
    ],
)
def test_it_refuses_a_due_at_outside_the_sane_range_naming_it(client_a, tenant, conversation, due_at, tz):
    tenant.timezone = tz
    tenant.save()
    resp = _schedule(client_a, conversation_id=str(conversation.pk), text="Halo", due_at=due_at)
    assert resp.status_code == 400, resp.content
    assert "due_at" in resp.json()["error"]["fields"]
    assert not FollowUp.objects.exists()


def test_it_refuses_to_reschedule_to_the_end_of_the_calendar(client_a, conversation):
    from followups import services
    from siganteng.errors import ApiError

    created = _schedule(client_a, conversation_id=str(conversation.pk), text="Halo", due_at=_soon()).json()
    followup = FollowUp.objects.get(pk=created["id"])
    with pytest.raises(Exception) as caught:
        services.followup_reschedule(followup=followup, due_at=dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC))
    assert "due_at" in str(getattr(caught.value, "detail", caught.value))
    assert not isinstance(caught.value, ApiError) or caught.value.status_code == 400
    assert FollowUp.objects.get().due_at.year < 9999
