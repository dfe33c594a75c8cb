"""Answer feedback through the API: one rating per answer, tenant-scoped, bad input named."""

from __future__ import annotations

import pytest

from chat.models import Feedback, Message

pytestmark = pytest.mark.django_db


def _answer(client) -> dict:
    resp = client.post(
        "/api/v1/chat", {"user_id": "c1", "messages": [{"role": "user", "content": "Shipping to Bali?"}]}, format="json"
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def _rate(client, message_id: str, **body):
    return client.post(f"/api/v1/messages/{message_id}/feedback", body, format="json")


def test_it_records_a_rating_and_replaces_it_when_rated_again(client_a, tenant):
    answer = _answer(client_a)
    resp = _rate(client_a, answer["message_id"], value="down", comment="  Wrong price.  ")
    assert resp.status_code == 200, resp.content
    assert resp.json()["value"] == "down" and resp.json()["comment"] == "Wrong price."
    assert resp.json()["source"] == "api" and resp.json()["message_id"] == answer["message_id"]

    assert _rate(client_a, answer["message_id"], value="up").status_code == 200
    feedback = Feedback.objects.get()
    assert (feedback.value, feedback.comment, feedback.tenant_id) == ("up", "", tenant.pk)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"value": "meh"}, "value"), ({}, "value"), ({"value": "up", "comment": "x" * 2001}, "comment")],
)
def test_it_refuses_bad_input_naming_the_field_and_stores_nothing(client_a, body, field):
    answer = _answer(client_a)
    resp = _rate(client_a, answer["message_id"], **body)
    assert resp.status_code == 400 and field in resp.json()["error"]["fields"]
    assert not Feedback.objects.exists()


def test_it_rates_only_the_agents_answers(client_a):
    answer = _answer(client_a)
    resp = _rate(client_a, answer["user_message_id"], value="up")
    assert resp.status_code == 400 and "message" in resp.json()["error"]["fields"]


def test_another_tenants_answer_is_404(client_a, client_b):
    answer = _answer(client_a)
    assert _rate(client_b, answer["message_id"], value="down").status_code == 404
    assert _rate(client_b, "not-a-uuid", value="down").status_code == 404
    assert not Feedback.objects.exists()
    assert Message.objects.filter(pk=answer["message_id"]).exists()


def test_staff_rate_in_the_playground_and_see_ratings_in_the_admin(client, tenant):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("staff", password="pw-for-tests-1", is_staff=True, is_superuser=True))
    first = client.post("/playground/", {"tenant": tenant.pk, "user_id": "pg", "text": "Shipping?"})
    conversation = first.context["conversation"]
    answer = Message.objects.get(conversation=conversation, role="assistant")
    form = {"tenant": tenant.pk, "user_id": "pg", "conversation_id": str(conversation.pk), "rate": str(answer.pk)}
    page = client.post("/playground/", {**form, "value": "down"})
    assert page.status_code == 200 and 'class="thumb chosen">👎' in page.content.decode().replace("\n", "")
    assert Feedback.objects.get(message=answer).source == "playground"
    # A bad value is reported on the page, not stored, never a 500.
    assert client.post("/playground/", {**form, "value": "meh"}).status_code == 200
    assert Feedback.objects.get(message=answer).value == "down"

    html = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "👎 (playground)" in html
    assert "👎 (playground)" in client.get("/admin/chat/message/").content.decode()
