"""Tenant HTTP tools: the model's function calls, signed outbound calls, errors as results, the API."""

from __future__ import annotations

import json

import pytest

from chat import tool_services
from chat.models import Message, Tool
from siganteng import webhooks
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {"destination_city": {"type": "string"}, "weight_kg": {"type": "number", "minimum": 0}},
    "required": ["destination_city", "weight_kg"],
}
SECRET = webhooks.new_secret()


@pytest.fixture
def agent(tenant, fake_openai):
    tenant.llm_provider = "openai"
    tenant.save()
    return tenant


def make_tool(tenant, url, **kw):
    return tool_services.tool_create(
        tenant=tenant,
        name=kw.pop("name", "shipping_quote"),
        description="Quote shipping.",
        url=url,
        parameters=SCHEMA,
        signing_secret=SECRET,
        **kw,
    )


def ask(client, text="How much to ship 2 kg to Bandung?"):
    return client.post("/api/v1/chat", {"user_id": "u", "messages": [{"role": "user", "content": text}]}, format="json")


def tool_results(fake_openai) -> list[dict]:
    return [m for m in fake_openai.last_body["messages"] if m["role"] == "tool"]


def test_it_calls_a_tool_with_a_signed_request_and_answers_with_its_result(
    client_a, agent, fake_openai, local_server, allow_private
):
    local_server.handler = lambda req: Reply(200, {"price_idr": 21000, "eta_days": 2})
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "Bandung", "weight_kg": 2})
    fake_openai.reply_text("Ongkirnya Rp 21.000, sampai dalam 2 hari.")
    r = ask(client_a)
    assert r.status_code == 200, r.content
    assert r.json()["text"] == "Ongkirnya Rp 21.000, sampai dalam 2 hari."
    assert fake_openai.calls == 2
    sent = fake_openai.requests[0].json()
    assert sent["tools"][0]["function"]["name"] == "shipping_quote"
    (call,) = local_server.requests
    webhooks.verify(SECRET, call.headers, call.body)
    assert call.json()["arguments"] == {"destination_city": "Bandung", "weight_kg": 2}
    assert call.json()["tenant"] == agent.pk
    assert json.loads(tool_results(fake_openai)[0]["content"]) == {"price_idr": 21000, "eta_days": 2}
    msg = Message.objects.get(pk=r.json()["message_id"])
    assert msg.metadata["tool_calls"][0]["ok"] is True
    assert msg.tokens_in > 0  # both rounds counted


def test_it_hands_tool_failures_back_to_the_model(client_a, agent, fake_openai, local_server, allow_private):
    local_server.handler = lambda req: Reply(500, {"oops": True})
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "Bandung", "weight_kg": 2})
    fake_openai.reply_text("Maaf, tidak bisa cek ongkir sekarang.")
    r = ask(client_a)
    assert r.status_code == 200
    assert "error" in json.loads(tool_results(fake_openai)[0]["content"])


def test_it_validates_arguments_before_calling(client_a, agent, fake_openai, local_server, allow_private):
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "Bandung", "weight_kg": "heavy"})
    fake_openai.reply_tool_call("no_such_tool", {})
    fake_openai.reply_text("ok")
    assert ask(client_a).status_code == 200
    assert local_server.requests == []
    results = [m["content"] for m in fake_openai.last_body["messages"] if m["role"] == "tool"]
    assert "weight_kg" in json.loads(results[0])["error"]
    assert "Unknown tool" in json.loads(results[1])["error"]


def test_it_refuses_private_addresses_unless_allowed(client_a, agent, fake_openai, local_server):
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "Bandung", "weight_kg": 1})
    fake_openai.reply_text("ok")
    assert ask(client_a).status_code == 200
    assert local_server.requests == []
    assert "private" in json.loads(tool_results(fake_openai)[0]["content"])["error"]


def test_it_stops_offering_tools_after_the_step_limit(
    client_a, agent, fake_openai, local_server, allow_private, settings
):
    settings.CHAT_MAX_TOOL_STEPS = 3
    local_server.handler = lambda req: Reply(200, {"price_idr": 1})
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "X", "weight_kg": 1}, times=3)
    fake_openai.reply_text("Done.")
    assert ask(client_a).json()["text"] == "Done."
    assert fake_openai.calls == 4 and len(local_server.requests) == 3
    assert "tools" not in fake_openai.last_body


def test_it_streams_through_tool_rounds(client_a, agent, fake_openai, local_server, allow_private):
    local_server.handler = lambda req: Reply(200, {"price_idr": 5})
    make_tool(agent, f"{local_server.url}/quote")
    fake_openai.reply_tool_call("shipping_quote", {"destination_city": "X", "weight_kg": 1})
    fake_openai.reply_text("It costs Rp 5.")
    r = client_a.post(
        "/api/v1/chat",
        {"user_id": "u", "stream": True, "messages": [{"role": "user", "content": "price?"}]},
        format="json",
    )
    raw = b"".join(r.streaming_content).decode()
    assert "event: done" in raw and "It costs Rp 5." in raw
    assert len(local_server.requests) == 1


# --- the management API ----------------------------------------------------------------


def test_it_manages_tools_with_a_write_only_secret(client_a, client_b):
    body = {
        "name": "quote",
        "description": "Quote.",
        "url": "https://tools.example.com/q",
        "parameters": SCHEMA,
        "signing_secret": "s3cret",
    }
    r = client_a.post("/api/v1/tools", body, format="json")
    assert r.status_code == 201, r.content
    tool = r.json()
    assert "signing_secret" not in tool and tool["has_signing_secret"] is True
    assert Tool.objects.get(pk=tool["id"]).signing_secret == "s3cret"
    assert client_a.post("/api/v1/tools", body, format="json").status_code == 409
    assert [t["name"] for t in client_a.get("/api/v1/tools").json()["results"]] == ["quote"]
    r = client_a.patch(f"/api/v1/tools/{tool['id']}", {"enabled": False}, format="json")
    assert r.status_code == 200 and r.json()["enabled"] is False
    # Another tenant sees nothing and can change nothing.
    assert client_b.get(f"/api/v1/tools/{tool['id']}").status_code == 404
    assert client_b.patch(f"/api/v1/tools/{tool['id']}", {"enabled": True}, format="json").status_code == 404
    assert client_b.delete(f"/api/v1/tools/{tool['id']}").status_code == 404
    assert client_b.get("/api/v1/tools").json()["results"] == []
    assert client_a.delete(f"/api/v1/tools/{tool['id']}").status_code == 204
    assert not Tool.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "has space"}, "name"),
        ({"parameters": {"type": "string"}}, "parameters"),
        ({"parameters": {"type": "object", "properties": {"a": {"type": "nonsense"}}}}, "parameters"),
        ({"url": "ftp://x.example.com"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"description": ""}, "description"),
        ({"timeout_seconds": 999}, "timeout_seconds"),
    ],
)
def test_it_rejects_bad_tools_naming_the_field(client_a, change, field):
    body = {"name": "quote", "description": "Quote.", "url": "https://tools.example.com/q", **change}
    r = client_a.post("/api/v1/tools", body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"]
    assert not Tool.objects.exists()


def test_it_needs_the_admin_scope_for_tools(make_client, tenant):
    assert make_client(tenant, scopes=["chat"]).get("/api/v1/tools").status_code == 403


# --- the demo shipping-quote endpoint --------------------------------------------------


def test_the_demo_quote_endpoint_verifies_the_tool_signature(tenant):
    from rest_framework.test import APIClient

    make_tool(tenant, "https://example.com/unused")
    body = json.dumps(
        {"tool": "shipping_quote", "tenant": tenant.pk, "arguments": {"destination_city": "Bandung", "weight_kg": 2.5}}
    ).encode()
    client = APIClient()
    signed = webhooks.signed_headers(SECRET, "msg_1", body)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed.items()}
    r = client.post("/api/v1/demo/shipping-quote", body, content_type="application/json", **headers)
    assert r.status_code == 200, r.content
    assert r.json()["price_idr"] == 15000 + 2 * 6000 and r.json()["eta_days"] == 2
    bad = client.post("/api/v1/demo/shipping-quote", body, content_type="application/json")
    assert bad.status_code == 401
    forged = webhooks.signed_headers(webhooks.new_secret(), "msg_2", body)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in forged.items()}
    assert (
        client.post("/api/v1/demo/shipping-quote", body, content_type="application/json", **headers).status_code == 401
    )


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"tool": ["x"], "tenant": {"a": 1}}', b"{}"])
def test_the_demo_quote_endpoint_refuses_garbage(body):
    from rest_framework.test import APIClient

    r = APIClient().post("/api/v1/demo/shipping-quote", body, content_type="application/json")
    assert r.status_code in (400, 401) and "error" in r.json()


def test_it_runs_the_same_tool_loop_on_gemini(client_a, tenant, fake_gemini, local_server, allow_private):
    tenant.llm_provider = "gemini"
    tenant.save()
    local_server.handler = lambda req: Reply(200, {"price_idr": 33000})
    make_tool(tenant, f"{local_server.url}/quote")
    fake_gemini.reply_tool_call("shipping_quote", {"destination_city": "Medan", "weight_kg": 1})
    fake_gemini.reply_text("Ongkir ke Medan Rp 33.000.")
    body = ask(client_a).json()
    assert body["provider"] == "gemini" and body["text"] == "Ongkir ke Medan Rp 33.000."
    assert fake_gemini.calls == 2 and len(local_server.requests) == 1
    assert "33000" in json.dumps(fake_gemini.last_body)


def offered(fake_openai) -> list[str]:
    """The tenant's tools offered to the model (the built-in handoff tool left out)."""
    return [
        t["function"]["name"]
        for t in fake_openai.last_body.get("tools", [])
        if t["function"]["name"] != "handoff_to_human"
    ]


def test_every_change_to_a_tenants_tools_reaches_the_next_reply(client_a, agent, fake_openai):
    """Replies read tools from a per-process cache keyed by the tenant's tools_version:
    registering, disabling, re-enabling and deleting a tool each show on the very next
    request, and a full save of a tenant read before the change does not undo it."""
    ask(client_a)
    assert offered(fake_openai) == []
    stale = type(agent).objects.get(pk=agent.pk)
    tool = make_tool(agent, "https://tools.example.com/quote")
    ask(client_a)
    assert offered(fake_openai) == ["shipping_quote"]
    stale.name = "Renamed"
    stale.save()  # an admin edit of an instance read before the tool existed
    tool_services.tool_update(tool=tool, enabled=False)
    ask(client_a)
    assert offered(fake_openai) == []
    tool_services.tool_update(tool=tool, enabled=True, name="quote")
    ask(client_a)
    assert offered(fake_openai) == ["quote"]
    client_a.delete(f"/api/v1/tools/{tool.pk}")
    ask(client_a)
    assert offered(fake_openai) == []


def test_a_stale_tenant_save_does_not_bring_back_a_cached_tool_list(client_a, agent, fake_openai):
    before = type(agent).objects.get(pk=agent.pk)  # tools_version as it was: no tools
    ask(client_a)  # caches "no tools" under that version
    make_tool(agent, "https://tools.example.com/quote")
    before.save()  # would put the old version back if a full save wrote it
    ask(client_a)
    assert offered(fake_openai) == ["shipping_quote"]
