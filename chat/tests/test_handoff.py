"""Human handoff through the chat API: triggers, the silent bot, staff replies, release,
close and reopen, notifications, held follow-ups and the helpdesk API."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from chat import handoff, tasks
from chat.models import Conversation, ConversationEvent, HandoffSettings, Message
from siganteng import webhooks
from siganteng.ai.intents import asks_for_person
from siganteng.testing import LocalServer, Recorded, Reply
from tenants.models import AuditEntry, Membership

pytestmark = pytest.mark.django_db

ALWAYS_OPEN = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture(autouse=True)
def run_tasks_inline(monkeypatch):
    """django-q2's own sync mode: a task enqueued after commit runs at once, in-process."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def shop(tenant):
    tenant.working_hours = ALWAYS_OPEN
    tenant.save()
    return tenant


@pytest.fixture
def agent_user(shop):
    user = get_user_model().objects.create_user("rina", email="rina@acme.test", password="pw-rina-123")
    Membership.objects.create(user=user, tenant=shop, role=Membership.AGENT)
    return user


def ask(client, text: str, user_id: str = "cust-1", **extra):
    r = client.post(
        "/api/v1/chat", {"user_id": user_id, "messages": [{"role": "user", "content": text}], **extra}, format="json"
    )
    assert r.status_code == 200, r.content
    return r.json()


@pytest.mark.parametrize(
    "text",
    [
        "mau bicara dengan admin",
        "Kak, saya mau bicara sama CS dong",
        "bisa sambungkan ke orang?",
        "minta CS",
        "I want to talk to a human",
        "Can I speak with an agent please?",
        "connect me to a real person",
    ],
)
def test_it_recognises_a_request_for_a_person(text):
    assert asks_for_person(text)


@pytest.mark.parametrize("text", ["How much is shipping to Bali?", "berapa ongkir ke Bandung?", "is the admin fee"])
def test_it_does_not_take_questions_for_a_request(text):
    assert not asks_for_person(text)


def test_it_hands_off_when_asked_and_the_bot_stays_silent_until_released(
    client_a, shop, kb, agent_user, django_capture_on_commit_callbacks
):
    kb(shop)
    with django_capture_on_commit_callbacks(execute=True):
        body = ask(client_a, "I want to talk to a human please")
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.state == "needs_human" and conversation.handoff_reason == handoff.REASON_REQUEST
    assert body["state"] == "needs_human" and body["provider"] == "handoff" and body["bubbles"]
    assert "team" in body["text"]
    event = ConversationEvent.objects.get(kind="handoff")
    assert (event.from_state, event.to_state, event.reason) == ("bot", "needs_human", "customer_request")
    # Staff were told by e-mail (working hours: at once).
    assert [m.to for m in mail.outbox] == [["rina@acme.test"]]
    assert "needs a person" in mail.outbox[0].subject

    held = ask(client_a, "How long does shipping to Bali take?")
    assert held["held"] is True and held["message_id"] is None and held["bubbles"] == [] and held["text"] == ""
    assert not Message.objects.filter(conversation=conversation, role="assistant", provider="extractive").exists()
    assert Message.objects.filter(conversation=conversation, role="user").count() == 2

    handoff.takeover(conversation=conversation, user=agent_user)
    reply = handoff.staff_reply(conversation=conversation, text="Hi, Rina here. 3-4 days to Bali.", author=agent_user)
    assert reply.author == agent_user and reply.author_label == "rina" and reply.provider == "staff"
    listed = client_a.get(f"/api/v1/conversations/{conversation.pk}/messages").json()["results"]
    assert listed[0]["content"] == "Hi, Rina here. 3-4 days to Bali." and listed[0]["author_label"] == "rina"
    actions = set(AuditEntry.objects.filter(action__startswith="conversation.").values_list("action", flat=True))
    assert actions == {"conversation.takeover", "conversation.reply"}

    handoff.release(conversation=conversation, actor=agent_user)
    again = ask(client_a, "How long does shipping to Bali take?")
    assert again["held"] is False and again["provider"] == "extractive" and "Bali" in again["text"]
    kinds = list(conversation.events.values_list("kind", "actor_label"))
    assert kinds == [("handoff", "bot"), ("notified", "system"), ("takeover", "rina"), ("release", "rina")]


def test_the_stream_is_silent_too(client_a, shop, agent_user):
    ask(client_a, "mau bicara dengan admin")
    conversation = Conversation.objects.get()
    handoff.takeover(conversation=conversation, user=agent_user)
    r = client_a.post(
        "/api/v1/chat",
        {"user_id": "cust-1", "messages": [{"role": "user", "content": "halo?"}], "stream": True},
        format="json",
    )
    raw = b"".join(r.streaming_content).decode()
    assert "event: delta" not in raw
    done = json.loads(raw.split("event: done\ndata: ", 1)[1])
    assert done["held"] is True and done["state"] == "human"


def test_the_openai_compatible_endpoint_is_silent_too(make_key, shop, agent_user):
    from rest_framework.test import APIClient

    key = make_key(shop)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    conversation = Conversation.objects.create(tenant=shop, user_id="oa-1", channel="openai")
    handoff.takeover(conversation=conversation, user=agent_user)
    r = client.post(
        "/v1/chat/completions",
        {"model": "x", "user": "oa-1", "messages": [{"role": "user", "content": "hello?"}]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["choices"][0]["message"]["content"] == ""
    assert not Message.objects.filter(conversation=conversation, role="assistant").exists()


def test_the_model_can_hand_off_with_a_reason_through_openai(client_a, shop, fake_openai):
    shop.llm_provider = "openai"
    shop.save()
    fake_openai.reply_tool_call("handoff_to_human", {"reason": "wants a refund for a broken item"})
    body = ask(client_a, "My blender arrived broken, what now?")
    offered = [t["function"]["name"] for t in fake_openai.last_body["tools"]]
    assert "handoff_to_human" in offered
    conversation = Conversation.objects.get()
    assert conversation.state == "needs_human"
    assert conversation.handoff_reason == "model: wants a refund for a broken item"
    assert body["provider"] == "handoff" and body["bubbles"]
    assert fake_openai.calls == 1  # no second round after the handoff


def test_the_model_can_hand_off_through_gemini(client_a, shop, fake_gemini):
    shop.llm_provider = "gemini"
    shop.save()
    fake_gemini.reply_tool_call("handoff_to_human", {"reason": "angry customer"})
    ask(client_a, "This is unacceptable.")
    assert Conversation.objects.get().handoff_reason == "model: angry customer"


def test_the_offline_provider_calls_the_tool_when_the_phrase_trigger_is_off(client_a, shop):
    HandoffSettings.objects.create(tenant=shop, on_request=False)
    body = ask(client_a, "saya mau bicara dengan orang")
    conversation = Conversation.objects.get()
    assert conversation.state == "needs_human" and conversation.handoff_reason.startswith("model:")
    assert body["provider"] == "handoff"


def test_no_trigger_when_the_tenant_turns_them_off(client_a, shop):
    HandoffSettings.objects.create(tenant=shop, on_request=False, on_tool=False)
    body = ask(client_a, "I want to talk to a human")
    assert body["provider"] == "extractive" and Conversation.objects.get().state == "bot"


def test_it_hands_off_after_n_answers_without_the_knowledge_base(client_a, shop):
    HandoffSettings.objects.create(tenant=shop, no_answer_limit=2)
    first = ask(client_a, "Do you sell zeppelins?")
    assert Conversation.objects.get().state == "bot" and len(first["bubbles"]) >= 1
    second = ask(client_a, "What about submarines?")
    conversation = Conversation.objects.get()
    assert conversation.state == "needs_human" and conversation.handoff_reason == handoff.REASON_NO_ANSWER
    assert "team" in second["bubbles"][-1]


def test_it_hands_off_on_a_strongly_negative_message(client_a, shop):
    HandoffSettings.objects.create(tenant=shop, negative_sentiment=-0.5)
    ask(client_a, "Pengiriman sangat lambat, barang rusak, saya kecewa sekali")
    assert Conversation.objects.get().handoff_reason == handoff.REASON_SENTIMENT


def test_outside_hours_the_handoff_waits_for_the_opening(client_a, tenant, agent_user):
    from zoneinfo import ZoneInfo

    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    today = dt.datetime.now(ZoneInfo(tenant.timezone)).weekday()
    tenant.working_hours = {days[(today + 2) % 7]: [["09:00", "17:00"]]}  # open only the day after tomorrow
    tenant.save()
    HandoffSettings.objects.create(tenant=tenant, after_hours_message="We're closed; our team answers at 9.")
    body = ask(client_a, "talk to a human")
    conversation = Conversation.objects.get()
    assert body["text"] == "We're closed; our team answers at 9." and conversation.state == "needs_human"
    opening = tenant.next_opening()
    assert conversation.notify_at == opening and mail.outbox == []
    assert tasks.sweep(now=opening - dt.timedelta(minutes=1))["notified"] == 0
    assert tasks.sweep(now=opening + dt.timedelta(seconds=1))["notified"] == 1


def test_a_closed_conversation_reopens_to_the_bot_or_to_the_person(client_a, shop, agent_user):
    ask(client_a, "halo")
    conversation = Conversation.objects.get()
    handoff.takeover(conversation=conversation, user=agent_user)
    handoff.close(conversation=conversation, actor=agent_user)
    body = ask(client_a, "How long does shipping to Bali take?")
    conversation.refresh_from_db()
    assert conversation.state == "bot" and body["held"] is False
    assert conversation.events.filter(kind="reopen", to_state="bot").exists()
    assert Message.objects.filter(conversation=conversation, role="user").count() == 2  # stored once

    HandoffSettings.objects.create(tenant=shop, reopen_to="human")
    handoff.takeover(conversation=conversation, user=agent_user)
    handoff.close(conversation=conversation, actor=agent_user)
    body = ask(client_a, "one more thing")
    conversation.refresh_from_db()
    assert conversation.state == "human" and conversation.assigned_to == agent_user and body["held"] is True


def test_transitions_that_make_no_sense_are_refused(client_a, shop, agent_user):
    ask(client_a, "halo")
    conversation = Conversation.objects.get()
    with pytest.raises(handoff.Conflict):
        handoff.release(conversation=conversation)
    outsider = get_user_model().objects.create_user("mallory", password="pw-mallory-1")
    with pytest.raises(Exception, match="assignee"):
        handoff.takeover(conversation=conversation, user=outsider)
    assert Conversation.objects.get().state == "bot"


def test_an_idle_conversation_goes_back_to_the_bot(shop, agent_user):
    HandoffSettings.objects.create(tenant=shop, idle_release_minutes=30)
    conversation = Conversation.objects.create(tenant=shop, user_id="u", channel="api")
    handoff.takeover(conversation=conversation, user=agent_user)
    conversation.refresh_from_db()
    assert tasks.sweep(now=conversation.updated_at + dt.timedelta(minutes=29))["released"] == 0
    assert tasks.sweep(now=conversation.updated_at + dt.timedelta(minutes=31))["released"] == 1
    conversation.refresh_from_db()
    assert conversation.state == "bot"
    assert conversation.events.last().reason == "idle for 30 min"


# --- the helpdesk API --------------------------------------------------------------------


@pytest.fixture
def helpdesk(shop, allow_private):
    received: list[Recorded] = []

    def handler(req: Recorded) -> Reply:
        received.append(req)
        return Reply(204, None)

    with LocalServer(handler) as server:
        HandoffSettings.objects.create(tenant=shop, events_url=f"{server.url}/events")
        server.received = received
        yield server


def test_the_helpdesk_api_drives_the_states_and_gets_signed_events(
    client_a, shop, agent_user, helpdesk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = ask(client_a, "How long does shipping to Bali take?")
    cid = body["conversation_id"]
    base = f"/api/v1/conversations/{cid}"
    with django_capture_on_commit_callbacks(execute=True):
        r = client_a.post(f"{base}/handoff", {"reason": "VIP customer"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "needs_human" and r.json()["handoff_reason"] == "VIP customer"
    assert client_a.post(f"{base}/handoff", {"reason": "again"}, format="json").status_code == 409
    assert client_a.post(f"{base}/assign", {"assignee": "nobody"}, format="json").json()["error"]["fields"] == {
        "assignee": ["No staff member of this tenant has this username or e-mail."]
    }
    r = client_a.post(f"{base}/assign", {"assignee": "rina@acme.test"}, format="json")
    assert r.json()["state"] == "human" and r.json()["assigned_to"] == "rina"
    with django_capture_on_commit_callbacks(execute=True):
        r = client_a.post(f"{base}/messages", {"text": "Hello from the helpdesk", "author": "Budi"}, format="json")
    assert r.status_code == 201 and r.json()["author_label"].endswith(":Budi")
    assert client_a.post(f"{base}/messages", {"text": ""}, format="json").status_code == 400
    assert client_a.post(f"{base}/release", {}, format="json").json()["state"] == "bot"
    with django_capture_on_commit_callbacks(execute=True):
        assert client_a.post(f"{base}/close", {"reason": "done"}, format="json").json()["state"] == "closed"

    types = [json.loads(req.body)["type"] for req in helpdesk.received]
    assert types == [
        "message.created",  # the customer
        "message.created",  # the bot
        "conversation.handoff",
        "message.created",  # the agent
        "conversation.closed",
    ]
    for req in helpdesk.received:
        webhooks.verify(shop.webhook_secret, req.headers, req.body)
    agent_event = json.loads(helpdesk.received[3].body)["data"]
    assert agent_event["message"]["text"] == "Hello from the helpdesk" and agent_event["conversation_id"] == cid


def test_the_helpdesk_api_is_scoped_to_the_tenant(client_b, client_a, shop):
    body = ask(client_a, "halo")
    base = f"/api/v1/conversations/{body['conversation_id']}"
    for path, data in (("handoff", {"reason": "x"}), ("release", {}), ("close", {}), ("messages", {"text": "x"})):
        assert client_b.post(f"{base}/{path}", data, format="json").status_code == 404
    assert Conversation.objects.get().state == "bot"
