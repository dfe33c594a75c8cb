"""The back-office inbox: scoped to the current tenant, its JSON for the polling script,
and the take over / assign / release / close / reply buttons."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat import handoff
from chat.feedback import feedback_record
from chat.models import Conversation, Message
from tenants.models import AuditEntry, Membership

pytestmark = pytest.mark.django_db


def staff(tenant, username: str, role: str = Membership.AGENT):
    user = get_user_model().objects.create_user(
        username, email=f"{username}@x.test", password="pw-123456789", is_staff=True
    )
    Membership.objects.create(user=user, tenant=tenant, role=role)
    client = Client()
    client.force_login(user)
    return user, client


@pytest.fixture
def waiting(tenant):
    conversation = Conversation.objects.create(tenant=tenant, user_id="cust-9", channel="api")
    Message.objects.create(tenant=tenant, conversation=conversation, role="user", content="mau bicara dengan admin")
    handoff.handoff_request(conversation=conversation, reason=handoff.REASON_REQUEST)
    return conversation


def test_the_inbox_lists_waiting_conversations_with_unread_counts(tenant, waiting):
    _, client = staff(tenant, "rina")
    page = client.get("/admin/inbox/")
    assert page.status_code == 200 and b"inbox.js" in page.content
    data = client.get("/admin/inbox/data").json()
    [row] = data["conversations"]
    assert row["customer"] == "cust-9" and row["state"] == "needs_human" and row["unread"] == 1
    assert row["last_message"] == "mau bicara dengan admin" and row["waiting_seconds"] is not None
    assert row["reason"] == "customer_request" and data["counts"] == {"needs_human": 1}
    assert client.get("/admin/inbox/data", {"state": "bot"}).json()["conversations"] == []
    assert client.get("/admin/inbox/data", {"q": "nobody"}).json()["conversations"] == []
    client.get(f"/admin/inbox/{waiting.pk}/data")
    assert client.get("/admin/inbox/data").json()["conversations"][0]["unread"] == 0


def test_another_tenants_staff_see_nothing(tenant, other_tenant, waiting):
    _, client = staff(other_tenant, "mallory", Membership.OWNER)
    assert client.get("/admin/inbox/data").json()["conversations"] == []
    for path in (f"/admin/inbox/{waiting.pk}/", f"/admin/inbox/{waiting.pk}/data"):
        assert client.get(path).status_code == 404
    r = client.post(f"/admin/inbox/{waiting.pk}/act", {"action": "takeover"})
    assert r.status_code == 404
    assert Conversation.objects.get(pk=waiting.pk).state == "needs_human"


def test_the_buttons_take_over_reply_assign_release_and_close(tenant, waiting):
    rina, client = staff(tenant, "rina")
    budi, _ = staff(tenant, "budi")
    act = f"/admin/inbox/{waiting.pk}/act"
    assert client.post(act, {"action": "takeover"}).status_code == 302
    waiting.refresh_from_db()
    assert waiting.state == "human" and waiting.assigned_to == rina
    client.post(act, {"action": "reply", "text": "Halo, saya Rina."})
    reply = Message.objects.get(provider="staff")
    assert reply.author == rina and reply.metadata["delivery"]["status"] == "stored"  # an API conversation
    client.post(act, {"action": "assign", "assignee": budi.pk})
    waiting.refresh_from_db()
    assert waiting.assigned_to == budi
    client.post(act, {"action": "release"})
    assert Conversation.objects.get(pk=waiting.pk).state == "bot"
    client.post(act, {"action": "close"})
    assert Conversation.objects.get(pk=waiting.pk).state == "closed"
    r = client.post(act, {"action": "release"}, follow=True)
    assert b"cannot be moved" in r.content  # the reason is shown, nothing changes
    data = client.get(f"/admin/inbox/{waiting.pk}/data").json()
    assert [m["who"] for m in data["messages"]] == ["customer", "staff"]
    assert [e["to"] for e in data["events"]] == ["needs_human", "human", "human", "bot", "closed"]
    assert list(AuditEntry.objects.order_by("created_at", "id").values_list("action", flat=True)) == [
        "conversation.takeover",
        "conversation.reply",
        "conversation.assign",
        "conversation.release",
        "conversation.close",
    ]


def test_anonymous_visitors_are_sent_to_the_login(tenant, waiting):
    r = Client().get("/admin/inbox/data")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def _answered(tenant, customer: str, *ratings: tuple[str, str]) -> Conversation:
    """A bot conversation whose answers the customer rated (``(value, comment)`` each)."""
    conversation = Conversation.objects.create(tenant=tenant, user_id=customer, channel="telegram")
    for i, (value, comment) in enumerate(ratings):
        Message.objects.create(tenant=tenant, conversation=conversation, role="user", content=f"question {i}")
        answer = Message.objects.create(tenant=tenant, conversation=conversation, role="assistant", content="answer")
        feedback_record(tenant=tenant, message=answer, value=value, comment=comment, source="telegram")
    return conversation


def test_each_row_shows_the_ratings_and_the_list_filters_conversations_rated_down(tenant, other_tenant, waiting):
    liked = _answered(tenant, "cust-liked", ("up", ""), ("up", "mantap"))
    disliked = _answered(tenant, "cust-disliked", ("up", ""), ("down", "Harganya salah"))
    _answered(other_tenant, "globex-angry", ("down", "globex secret"))
    _, client = staff(tenant, "rina")

    rows = {r["customer"]: r for r in client.get("/admin/inbox/data", {"state": "all"}).json()["conversations"]}
    assert set(rows) == {"cust-9", "cust-liked", "cust-disliked"}
    assert rows["cust-9"]["feedback"] == {"up": 0, "down": 0, "latest": None}
    assert rows["cust-liked"]["feedback"]["up"] == 2 and rows["cust-liked"]["feedback"]["down"] == 0
    assert rows["cust-liked"]["feedback"]["latest"]["comment"] == "mantap"
    feedback = rows["cust-disliked"]["feedback"]
    assert (feedback["up"], feedback["down"]) == (1, 1)
    assert (feedback["latest"]["value"], feedback["latest"]["comment"]) == ("down", "Harganya salah")
    assert rows["cust-disliked"]["unread"] == 2  # the ratings' join counts each message once

    def customers(**params) -> list[str]:
        data = client.get("/admin/inbox/data", {"state": "all", **params}).json()
        return sorted(r["customer"] for r in data["conversations"])

    assert customers(feedback="down") == ["cust-disliked"]
    assert customers(feedback="rated") == ["cust-disliked", "cust-liked"]
    assert customers(feedback="nonsense") == ["cust-9", "cust-disliked", "cust-liked"]
    assert customers(feedback="down", state="open") == []  # the filters combine

    # The conversation's transcript marks the rated answers.
    transcript = client.get(f"/admin/inbox/{disliked.pk}/data").json()["messages"]
    assert [m["rating"] for m in transcript if m["who"] == "bot"] == [
        {"value": "up", "comment": ""},
        {"value": "down", "comment": "Harganya salah"},
    ]
    assert all(m["rating"] is None for m in transcript if m["who"] == "customer")
    assert liked.pk  # (rated up only: in the "rated" filter, not in "down")


def test_the_page_has_the_feedback_filter_and_column_in_both_languages(tenant):
    _, client = staff(tenant, "rina")
    html = client.get("/admin/inbox/").content.decode()
    assert '<select name="feedback">' in html and '<option value="down">An answer rated 👎</option>' in html
    assert "<th>Feedback</th>" in html and 'colspan="8"' in html
    assert client.post("/admin/staff/language/", {"language": "id", "next": "/admin/inbox/"}).status_code == 302
    html = client.get("/admin/inbox/").content.decode()
    assert "<th>Umpan balik</th>" in html and "Jawaban dinilai 👎" in html
