"""/v1/chat/completions and /v1/models driven by the real ``openai`` client over HTTP,
and the same answer through every chat entry point."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from chat.models import Conversation, Message, Tool
from chat.seed import DEMO_TOOL
from siganteng import webhooks

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How long does shipping to Bali take?"


@pytest.fixture
def key(make_key, tenant):
    return make_key(tenant)


@pytest.fixture
def oai(live_server, key):
    # Closed at the end: an idle keep-alive connection keeps its live-server thread, and
    # that thread's database connection, open until the test database is dropped.
    with openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=20) as client:
        yield client


def test_it_lists_the_tenants_agent_as_a_model(oai, tenant):
    models = oai.models.list()
    assert [m.id for m in models.data] == ["siganteng-acme"]


def test_it_gives_the_same_answer_on_every_entry_point(oai, live_server, key, tenant, kb):
    kb(tenant)
    headers = {"X-API-Key": key}
    body = {"user_id": "same", "messages": [{"role": "user", "content": QUESTION}]}
    plain = httpx.post(f"{live_server.url}/api/v1/chat", json=body, headers=headers, timeout=20).json()

    with httpx.stream(
        "POST",
        f"{live_server.url}/api/v1/chat",
        json={**body, "user_id": "other", "stream": True},
        headers=headers,
        timeout=20,
    ) as r:
        raw = "".join(r.iter_text())
    final = json.loads([b for b in raw.strip().split("\n\n") if b.startswith("event: done")][0].split("data: ", 1)[1])

    completion = oai.chat.completions.create(model="siganteng-acme", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(
        oai.chat.completions.create(
            model="anything",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert "3-4 days" in plain["text"]
    assert plain["text"] == final["text"] == completion.choices[0].message.content == streamed
    assert plain["bubbles"] == final["bubbles"] == completion.model_extra["siganteng"]["bubbles"]
    assert completion.model == "siganteng-acme" and completion.choices[0].finish_reason == "stop"
    # The channel section differs (api vs openai), so token counts match per endpoint only.
    assert chunks[-1].usage.total_tokens == completion.usage.total_tokens > 0
    assert final["usage"] == {**plain["usage"], "latency_ms": final["usage"]["latency_ms"]}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    conv = Conversation.objects.get(tenant=tenant, channel="openai", user_id="openai-client")
    assert conv.messages.count() == 4  # two turns stored


def test_it_uses_the_callers_messages_as_history(oai, tenant, kb):
    kb(tenant)
    oai.chat.completions.create(
        model="x",
        user="cust-9",
        messages=[
            {"role": "system", "content": "Answer tersely."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": QUESTION},
        ],
    )
    msg = Message.objects.filter(role="assistant", conversation__user_id="cust-9").get()
    prompt = msg.metadata["prompt"]
    assert [m["content"] for m in prompt["messages"]] == ["Hi", "Hello!", QUESTION]
    assert prompt["sections"][-1] == {"name": "caller", "text": "Answer tersely."}


def test_it_answers_errors_the_openai_client_understands(live_server, oai, tenant):
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(model="x", messages=[{"role": "assistant", "content": "no user turn"}])
    assert "messages" in str(bad.value)
    with (
        openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="sgt_nope_nope", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.models.list()
    tenant.monthly_token_budget = 0
    tenant.save()
    with pytest.raises(openai.APIStatusError) as refused:
        oai.chat.completions.create(model="x", messages=[{"role": "user", "content": QUESTION}])
    assert refused.value.status_code == 402 and refused.value.code == "budget_exceeded"


def test_it_keeps_tenants_apart(oai, live_server, make_key, other_tenant, tenant):
    oai.chat.completions.create(model="x", messages=[{"role": "user", "content": QUESTION}])
    other = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=make_key(other_tenant), max_retries=0)
    with other:
        assert [m.id for m in other.models.list().data] == ["siganteng-globex"]
    conv = Conversation.objects.get(tenant=tenant)
    r = httpx.get(
        f"{live_server.url}/api/v1/conversations/{conv.pk}/messages",
        headers={"Authorization": f"Bearer {other.api_key}"},
    )
    assert r.status_code == 404


def test_the_demo_tool_quotes_shipping_through_this_apps_own_endpoint(live_server, key, tenant, fake_openai, settings):
    """The model calls the shipping-quote tool; the call goes out signed to this app's demo
    endpoint (over real HTTP), which verifies the signature and quotes."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    tenant.llm_provider = "openai"
    tenant.save()
    Tool.objects.create(
        tenant=tenant,
        url=f"{live_server.url}/api/v1/demo/shipping-quote",
        signing_secret=webhooks.new_secret(),
        **DEMO_TOOL,
    )
    fake_openai.reply_tool_call(
        "shipping_quote", {"destination_city": "Surabaya", "weight_kg": 3, "service": "express"}
    )
    fake_openai.reply_text("Ongkir ke Surabaya Rp 48.600, 1 hari.")
    r = httpx.post(
        f"{live_server.url}/api/v1/chat",
        headers={"X-API-Key": key},
        timeout=20,
        json={"user_id": "u", "messages": [{"role": "user", "content": "Ongkir 3 kg ke Surabaya?"}]},
    )
    assert r.status_code == 200, r.text
    result = [m for m in fake_openai.last_body["messages"] if m["role"] == "tool"][0]
    quote = json.loads(result["content"])
    assert quote["price_idr"] == int((15000 + 2 * 6000) * 1.8) and quote["eta_days"] == 1
