"""The prompt builder's sections, their order, and history trimming."""

from __future__ import annotations

import datetime as dt

import pytest

from chat import prompt as prompt_builder
from chat import selectors
from chat.models import Conversation, Message
from siganteng.ai.base import ChatMessage, ContextPassage

pytestmark = pytest.mark.django_db

# 2026-11-23 is a Monday; 03:00 UTC is 10:00 in Jakarta, 13:00 UTC is 20:00.
MONDAY_OPEN = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
MONDAY_CLOSED = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)


def build(tenant, **kw):
    defaults = {
        "tenant": tenant,
        "channel": "whatsapp",
        "locale": "id",
        "passages": [ContextPassage(id="c-42", document_id="d-1", title="Ongkir", text="Ongkir ke Bali 3-4 hari.")],
        "history": [ChatMessage(role="user", content="Halo"), ChatMessage(role="assistant", content="Halo kak!")],
        "user_text": "Berapa lama ke Bali?",
        "now": MONDAY_OPEN,
    }
    defaults.update(kw)
    return prompt_builder.build(**defaults)


def test_it_orders_the_named_sections(tenant):
    p = build(tenant, caller_instructions="Be brief.")
    assert p.names() == ["persona", "sop", "hours", "knowledge", "channel", "locale", "caller"]
    system = p.system
    positions = [
        system.index(tenant.persona),
        system.index(tenant.sop),
        system.index("OPEN now"),
        system.index("[c-42] Ongkir"),
        system.index("WhatsApp formatting"),
        system.index("Indonesian"),
    ]
    assert positions == sorted(positions)
    assert [m.content for m in p.messages] == ["Halo", "Halo kak!", "Berapa lama ke Bali?"]
    assert "600 characters" in p.section("channel")


def test_it_says_when_closed_with_the_next_opening_and_after_hours_message(tenant):
    tenant.after_hours_message = "Tim kami akan membalas besok pagi."
    p = build(tenant, now=MONDAY_CLOSED)
    hours = p.section("hours")
    assert "CLOSED now" in hours and "20:00" in hours
    assert "Tuesday 2026-11-24 09:00" in hours
    assert "Tim kami akan membalas besok pagi." in hours


def test_it_says_so_when_nothing_was_retrieved(tenant):
    p = build(tenant, passages=[], caller_instructions="")
    assert "No passages were found" in p.section("knowledge")
    assert "caller" not in p.names()


def test_it_trims_history_to_the_token_budget(tenant):
    conv = Conversation.objects.create(tenant=tenant, user_id="u", channel="api")
    for i in range(10):
        Message.objects.create(
            tenant=tenant,
            conversation=conv,
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i} " + "word " * 20,
        )
    full = selectors.history(conversation=conv, token_budget=10_000)
    assert [m.content.split()[1] for m in full] == [str(i) for i in range(10)]
    trimmed = selectors.history(conversation=conv, token_budget=100)
    assert 0 < len(trimmed) < 10
    assert trimmed[-1].content == full[-1].content  # the newest turns are kept
    assert selectors.history(conversation=conv, token_budget=0) == []


def test_it_has_rules_for_every_channel():
    for channel in ("api", "openai", "webhook", "telegram", "whatsapp"):
        rules = prompt_builder.channel_rules(channel)
        assert rules.channel == channel and rules.max_chars > 0 and rules.notes


def test_it_trims_a_callers_history_to_the_same_budget():
    sent = [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"turn {i} " + "word " * 20) for i in range(10)
    ]
    kept = selectors.trim_history(sent, token_budget=100)
    assert 0 < len(kept) < 10 and kept == sent[-len(kept) :]
    assert selectors.trim_history(sent, token_budget=10_000) == sent
