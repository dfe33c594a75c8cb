"""POST /api/v1/chat (plain and streamed), conversations and messages."""

from __future__ import annotations

import json
import uuid

import pytest

from chat.models import Conversation, Message, UsageDaily

pytestmark = pytest.mark.django_db


def ask(client, text="How long does shipping to Bali take?", **extra):
    body = {"user_id": "cust-1", "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/api/v1/chat", body, format="json")


def sse_events(response) -> list[tuple[str, dict]]:
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_it_answers_from_the_knowledge_base_and_stores_the_turn(client_a, tenant, kb):
    kb(tenant)
    r = ask(client_a)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["provider"] == "extractive"
    assert "3-4 days" in body["text"]
    assert body["bubbles"] and "3-4 days" in " ".join(body["bubbles"])
    assert any(s["cited"] and s["external_id"] == "shipping" for s in body["sources"])
    assert body["usage"]["total_tokens"] > 0
    assert "retrieval;dur=" in r["Server-Timing"]
    conv = Conversation.objects.get(pk=body["conversation_id"])
    assert conv.tenant == tenant and conv.user_id == "cust-1" and conv.channel == "api"
    assert conv.last_customer_message_at is not None
    roles = list(conv.messages.order_by("created_at").values_list("role", flat=True))
    assert roles == ["user", "assistant"]
    assistant = Message.objects.get(pk=body["message_id"])
    assert assistant.metadata["prompt"]["sections"][0]["name"] == "persona"
    assert UsageDaily.objects.get(tenant=tenant).requests == 1


def test_it_continues_the_conversation_by_user_and_channel_or_by_id(client_a, tenant, kb):
    kb(tenant)
    first = ask(client_a).json()
    second = ask(client_a, "Do you accept returns?").json()
    assert second["conversation_id"] == first["conversation_id"]
    third = client_a.post(
        "/api/v1/chat",
        {"conversation_id": first["conversation_id"], "messages": [{"role": "user", "content": "And express?"}]},
        format="json",
    )
    assert third.json()["conversation_id"] == first["conversation_id"]
    msg = Message.objects.get(pk=third.json()["message_id"])
    # The stored history went into the prompt.
    assert [m["content"] for m in msg.metadata["prompt"]["messages"]][:2] == [
        "How long does shipping to Bali take?",
        first["text"],
    ]
    other_channel = ask(client_a, channel="whatsapp").json()
    assert other_channel["conversation_id"] != first["conversation_id"]


def test_it_streams_deltas_then_the_same_final_answer(client_a, tenant, kb):
    kb(tenant)
    plain = ask(client_a, user_id="plain").json()
    r = ask(client_a, user_id="streamer", stream=True)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/event-stream")
    events = sse_events(r)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"}
    done = events[-1][1]
    assert "".join(d["text"] for k, d in events if k == "delta") == done["text"]
    assert done["bubbles"] == plain["bubbles"] and done["text"] == plain["text"]
    assert [s["id"] for s in done["sources"]] == [s["id"] for s in plain["sources"]]
    assert done["usage"]["total_tokens"] == plain["usage"]["total_tokens"]
    assert Message.objects.filter(conversation_id=done["conversation_id"]).count() == 2


def test_it_says_plainly_when_nothing_is_found(client_a, tenant):
    body = ask(client_a, "What is the airspeed of a swallow?").json()
    assert body["sources"] == []
    assert "couldn't find" in body["text"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "user_id"),
        ({"user_id": "u"}, "messages"),
        ({"user_id": "u", "messages": []}, "messages"),
        ({"user_id": "u", "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"user_id": "u", "messages": [{"role": "user", "content": "  "}]}, "messages"),
        ({"user_id": "u", "messages": [{"role": "robot", "content": "x"}]}, "messages"),
        ({"user_id": "u", "messages": [{"role": "user", "content": "x"}], "channel": "fax"}, "channel"),
        (
            {"user_id": "u", "messages": [{"role": "user", "content": "x"}], "conversation_id": "nope"},
            "conversation_id",
        ),
        ({"user_id": "u", "messages": [{"role": "user", "content": "x"}], "max_chars": 5}, "max_chars"),
    ],
)
def test_it_rejects_bad_input_naming_the_field(client_a, payload, field):
    r = client_a.post("/api/v1/chat", payload, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]
    assert Message.objects.count() == 0


def test_it_hides_other_tenants_conversations(client_a, client_b, tenant, kb):
    kb(tenant)
    conv_id = ask(client_a).json()["conversation_id"]
    assert client_b.get(f"/api/v1/conversations/{conv_id}/messages").status_code == 404
    assert client_b.get(f"/api/v1/conversations/{conv_id}").status_code == 404
    r = client_b.post(
        "/api/v1/chat", {"conversation_id": conv_id, "messages": [{"role": "user", "content": "x"}]}, format="json"
    )
    assert r.status_code == 404
    assert client_b.get("/api/v1/conversations").json()["results"] == []
    assert client_a.get(f"/api/v1/conversations/{uuid.uuid4()}/messages").status_code == 404


def test_it_lists_conversations_and_pages_messages_by_cursor(client_a, tenant, kb):
    kb(tenant)
    conv_id = ask(client_a).json()["conversation_id"]
    for q in ("Returns?", "Store hours?"):
        ask(client_a, q)
    listed = client_a.get("/api/v1/conversations?user_id=cust-1").json()["results"]
    assert [c["id"] for c in listed] == [conv_id]
    page = client_a.get(f"/api/v1/conversations/{conv_id}/messages?page_size=4").json()
    assert len(page["results"]) == 4 and page["next"]
    rest = client_a.get(page["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    assert client_a.get("/api/v1/conversations?channel=fax").status_code == 400


def test_it_needs_the_chat_scope(make_client, tenant):
    client = make_client(tenant, scopes=["knowledge"])
    assert ask(client).status_code == 403
    assert client.get("/api/v1/conversations").status_code == 403


def test_it_streams_to_an_event_source_client_that_accepts_only_text_event_stream(client_a, tenant, kb):
    kb(tenant)
    body = {"user_id": "es", "stream": True, "messages": [{"role": "user", "content": "Shipping to Bali?"}]}
    r = client_a.post("/api/v1/chat", body, format="json", HTTP_ACCEPT="text/event-stream")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/event-stream")
    events = sse_events(r)
    assert events[-1][0] == "done" and "3-4 days" in events[-1][1]["text"]
    # Anything but the stream itself is JSON for such a client, never a 406.
    bad = client_a.post("/api/v1/chat", {"user_id": "es"}, format="json", HTTP_ACCEPT="text/event-stream")
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["fields"]
    plain = client_a.post("/api/v1/chat", {**body, "stream": False}, format="json", HTTP_ACCEPT="text/event-stream")
    assert plain.status_code == 200 and "3-4 days" in plain.json()["text"]


def test_it_takes_seed_001s_chat_request_with_its_tenant_id(make_key, tenant, other_tenant, kb):
    from rest_framework.test import APIClient

    kb(tenant)
    c = APIClient()
    c.credentials(HTTP_X_API_KEY=make_key(tenant, ["chat"]), HTTP_X_TENANT_ID=tenant.pk)
    body = {
        "tenant_id": tenant.pk,
        "user_id": "cust-9",
        "messages": [{"role": "user", "content": "How long does shipping to Bali take?"}],
        "channel": "api",
        "locale": "id",
    }
    r = c.post("/api/v1/chat", body, format="json")
    assert r.status_code == 200, r.content
    assert "3-4 days" in r.json()["text"]
    wrong = c.post("/api/v1/chat", {**body, "tenant_id": other_tenant.pk}, format="json")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "permission_denied"
    assert Conversation.objects.filter(tenant=other_tenant).count() == 0


def test_it_lets_the_platform_name_the_tenant_in_the_body_and_refuses_a_disagreement(platform_client, tenant, kb):
    kb(tenant)
    body = {"tenant_id": tenant.pk, "user_id": "p", "messages": [{"role": "user", "content": "Shipping to Bali?"}]}
    assert platform_client.post("/api/v1/chat", body, format="json").status_code == 200
    r = platform_client.post("/api/v1/chat", body, format="json", HTTP_X_TENANT_ID="globex")
    assert r.status_code == 403
    unknown = platform_client.post("/api/v1/chat", {**body, "tenant_id": "nobody"}, format="json")
    assert unknown.status_code == 404


def test_it_answers_jam_buka_offline_from_the_hours_while_closed(client_a, tenant, kb):
    import datetime as dt
    from zoneinfo import ZoneInfo

    kb(tenant)
    today = dt.datetime.now(ZoneInfo(tenant.timezone)).date()
    tenant.working_hours = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    tenant.holidays = [str(today)]  # closed all of today, whatever the hour
    tenant.after_hours_message = "Tim kami akan membalas besok pagi."
    tenant.save()
    body = ask(client_a, "Jam buka?", locale="id").json()
    assert "Senin–Minggu 09:00–17:00" in body["text"]
    assert "Saat ini kami sedang tutup." in body["text"] and "pukul 09:00" in body["text"]
    assert "Tim kami akan membalas besok pagi." in body["text"]
    assert "Bandung" not in body["text"] and not any(s["cited"] for s in body["sources"])
