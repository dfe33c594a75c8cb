"""Token cost, the daily roll-up and the spend gate (refusal happens before any provider call)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from chat import usage
from chat.models import Conversation, Message, UsageDaily
from siganteng.ai.base import Usage
from siganteng.testing import run_concurrently

pytestmark = pytest.mark.django_db


def ask(client, text="How long does shipping to Bali take?", **extra):
    body = {"user_id": "cust-1", "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/api/v1/chat", body, format="json")


def test_it_prices_tokens_by_model(settings):
    settings.LLM_PRICES = {"m": {"input": 1.0, "output": 2.0}}
    assert usage.cost_for("m", Usage(1_000_000, 500_000)) == Decimal("2.00000000")
    assert usage.cost_for("extractive-v1", Usage(10, 10)) == 0


def test_it_rolls_usage_up_per_day_atomically(tenant):
    for _ in range(3):
        usage.usage_record(tenant=tenant, provider="openai", model="m", usage=Usage(10, 5), cost=Decimal("0.5"))
    row = UsageDaily.objects.get(tenant=tenant)
    assert (row.requests, row.tokens_in, row.tokens_out, row.cost) == (3, 30, 15, Decimal("1.5"))
    last_month = (timezone.now().replace(day=1) - dt.timedelta(days=2)).date()
    usage.usage_record(
        tenant=tenant, provider="openai", model="m", usage=Usage(1000, 0), cost=Decimal(0), on=last_month
    )
    assert usage.tokens_this_month(tenant) == 45


@pytest.mark.django_db(transaction=True)
def test_concurrent_replies_add_to_one_daily_row_without_losing_any(tenant):
    """Four threads record at once, each on its own connection and transaction: the
    upsert adds every one to the same (tenant, day, provider, model) row."""

    def record(_: int) -> None:
        for _ in range(10):
            usage.usage_record(tenant=tenant, provider="openai", model="m", usage=Usage(3, 2), cost=Decimal("0.25"))

    run_concurrently(record, 4)
    row = UsageDaily.objects.get(tenant=tenant)
    assert (row.requests, row.tokens_in, row.tokens_out, row.cost) == (40, 120, 80, Decimal("10"))


def test_it_records_tokens_and_cost_per_message(client_a, tenant, kb, fake_openai):
    kb(tenant)
    tenant.llm_provider = "openai"
    tenant.save()
    fake_openai.reply_text("Shipping to Bali takes 3-4 days [x].", usage=(1000, 200))
    body = ask(client_a).json()
    assert body["provider"] == "openai" and body["model"] == "gpt-4o-mini"
    msg = Message.objects.get(pk=body["message_id"])
    assert (msg.tokens_in, msg.tokens_out) == (1000, 200)
    assert msg.cost == Decimal("0.00027000")  # 1000 x 0.15/M + 200 x 0.60/M
    row = UsageDaily.objects.get(tenant=tenant, provider="openai")
    assert (row.tokens_in, row.tokens_out, row.cost) == (1000, 200, Decimal("0.00027000"))
    # The passages and the system prompt reached the model.
    sent = fake_openai.last_body["messages"]
    assert sent[0]["role"] == "system" and "Bali takes 3-4 days" in sent[0]["content"]


def test_it_refuses_an_over_budget_tenant_before_calling_the_provider(client_a, tenant, fake_openai):
    tenant.llm_provider = "openai"
    tenant.monthly_token_budget = 100
    tenant.save()
    usage.usage_record(tenant=tenant, provider="openai", model="gpt-4o-mini", usage=Usage(80, 20), cost=Decimal(0))
    r = ask(client_a)
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "budget_exceeded"
    streamed = ask(client_a, stream=True)
    assert streamed.status_code == 402 and streamed.json()["error"]["code"] == "budget_exceeded"
    assert fake_openai.calls == 0
    assert Message.objects.count() == 0 and Conversation.objects.count() == 0


def test_it_answers_while_under_budget(client_a, tenant, fake_openai):
    tenant.llm_provider = "openai"
    tenant.monthly_token_budget = 100_000
    tenant.save()
    fake_openai.reply_text("Hi!", usage=(10, 2))
    assert ask(client_a).status_code == 200
    assert fake_openai.calls == 1


def test_it_reports_provider_failures_without_storing_half_a_turn(client_a, tenant, fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    tenant.llm_provider = "openai"
    tenant.save()
    fake_openai.fail(500, times=5)
    r = ask(client_a)
    assert r.status_code == 503 and r.json()["error"]["code"] == "provider_unavailable"
    assert Message.objects.count() == 0


def test_it_falls_back_to_the_tenants_fallback_provider(client_a, tenant, kb, fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    kb(tenant)
    tenant.llm_provider = "openai"
    tenant.llm_fallback_provider = "extractive"
    tenant.save()
    fake_openai.fail(503, times=5)
    body = ask(client_a).json()
    assert body["provider"] == "extractive" and "3-4 days" in body["text"]
    assert Message.objects.get(pk=body["message_id"]).metadata["fallback_from"] == "openai"


def test_it_lists_daily_usage(client_a, client_b, tenant):
    usage.usage_record(tenant=tenant, provider="openai", model="m", usage=Usage(3, 4), cost=Decimal("0.1"))
    rows = client_a.get("/api/v1/usage").json()["results"]
    assert rows[0]["tokens_in"] == 3 and rows[0]["cost"] == "0.10000000"
    assert client_b.get("/api/v1/usage").json() == {"next": None, "previous": None, "results": []}


def test_it_pages_daily_usage_newest_day_first(client_a, tenant):
    for days_ago in range(3):
        for model in ("a", "b"):
            UsageDaily.objects.create(
                tenant=tenant, date=dt.date(2026, 11, 20) - dt.timedelta(days=days_ago), provider="openai", model=model
            )
    seen = []
    url = "/api/v1/usage?page_size=4"
    while url:
        page = client_a.get(url).json()
        assert len(page["results"]) <= 4
        seen += [(row["date"], row["model"]) for row in page["results"]]
        url = page["next"]
    assert seen == [
        ("2026-11-20", "a"),
        ("2026-11-20", "b"),
        ("2026-11-19", "a"),
        ("2026-11-19", "b"),
        ("2026-11-18", "a"),
        ("2026-11-18", "b"),
    ]


def test_it_ends_a_stream_with_an_error_event_when_the_provider_fails(client_a, tenant, fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    tenant.llm_provider = "openai"
    tenant.save()
    fake_openai.fail(500, times=5)
    r = ask(client_a, stream=True)
    raw = b"".join(r.streaming_content).decode()
    assert raw.startswith("event: error") and "provider_unavailable" in raw
    assert Message.objects.count() == 0


def test_it_sends_only_the_history_that_fits_the_budget(client_a, tenant, fake_openai, settings):
    tenant.llm_provider = "openai"
    tenant.save()
    for i in range(6):
        fake_openai.reply_text(f"answer {i} " + "word " * 30)
        ask(client_a, f"question {i} " + "word " * 30)
    settings.CHAT_HISTORY_TOKENS = 120
    fake_openai.reply_text("last")
    ask(client_a, "final question")
    sent = [m["content"] for m in fake_openai.last_body["messages"] if m["role"] != "system"]
    assert sent[-1] == "final question"
    assert 1 <= len(sent) - 1 < 12
    assert sent[-2].startswith("answer 5")
