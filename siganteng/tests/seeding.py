"""One tenant's worth of objects, created through the public API, for the cross-API suites.

Used by the fuzz suite (so path ids hit real rows) and the all-routes isolation suite (so
another tenant's key has something to be refused). Creation goes through the HTTP API on
purpose: the objects are exactly what a client would have.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

TELEGRAM_TOKEN = "123456789:AAE-test_token_0123456789abcdefghi"

# The path parameters ``seed_tenant`` can fill with a real id.
PARAMS = frozenset(
    {
        "tenant_id",
        "key_id",
        "document_id",
        "source_id",
        "tool_id",
        "conversation_id",
        "message_id",
        "channel_id",
        "followup_id",
        "job_id",
        "task_id",
    }
)


@dataclass
class Seeded:
    """Ids of one tenant's objects, keyed by the path parameter name that addresses them."""

    tenant_id: str
    ids: dict[str, str] = field(default_factory=dict)


def _ok(resp, what: str) -> dict:
    assert resp.status_code in (200, 201, 202), f"seeding {what}: {resp.status_code} {resp.content[:500]!r}"
    return resp.json()


def seed_tenant(client, tenant) -> Seeded:
    """Create a document, a source, a tool, a conversation, a channel, a follow-up, a job,
    a background task and an extra API key for ``tenant`` using ``client`` (its key)."""
    from jobs.seed import load_catalog

    load_catalog()
    seeded = Seeded(tenant_id=tenant.pk)
    ids = seeded.ids
    ids["tenant_id"] = tenant.pk

    doc = _ok(
        client.post(
            "/api/v1/kb/upsert",
            {"external_id": "ship", "title": "Shipping", "body": "Orders ship daily to Bali.", "tags": ["faq"]},
            format="json",
        ),
        "document",
    )
    ids["document_id"] = str(doc.get("id") or doc["documents"][0]["id"])

    source = _ok(
        client.post(
            "/api/v1/kb/sources",
            {"url": "https://toko.example/feed", "kind": "feed", "refresh_minutes": 30},
            format="json",
        ),
        "source",
    )
    ids["source_id"] = str(source["id"])

    tool = _ok(
        client.post(
            "/api/v1/tools",
            {
                "name": "quote",
                "description": "Quote a shipping price.",
                "url": "https://tools.example.com/q",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            format="json",
        ),
        "tool",
    )
    ids["tool_id"] = str(tool["id"])

    chat = _ok(
        client.post(
            "/api/v1/chat",
            {"user_id": "cust-1", "messages": [{"role": "user", "content": "How long to Bali?"}]},
            format="json",
        ),
        "conversation",
    )
    ids["conversation_id"] = str(chat["conversation_id"])
    ids["message_id"] = str(chat["message_id"])

    channel = _ok(
        client.post(
            "/api/v1/channels",
            {"kind": "telegram", "name": "Bot", "secrets": {"bot_token": TELEGRAM_TOKEN}},
            format="json",
        ),
        "channel",
    )
    ids["channel_id"] = str(channel["id"])

    followup = _ok(
        client.post(
            "/api/v1/followup/schedule",
            {
                "user_id": "5550001",
                "channel_id": ids["channel_id"],
                "text": "Sudah sampai paketnya?",
                "due_at": (timezone.now() + dt.timedelta(hours=2)).isoformat(),
                "respect_working_hours": False,
            },
            format="json",
        ),
        "follow-up",
    )
    ids["followup_id"] = str(followup["id"])

    job = _ok(client.post("/api/v1/jobs/", {"model": "echo", "prompt": "hello"}, format="json"), "job")
    ids["job_id"] = str(job["id"])

    task = _ok(client.post("/api/v1/background/generate_text", {"prompt": "hello"}, format="json"), "task")
    ids["task_id"] = str(task["task_id"])

    key = _ok(client.post(f"/api/v1/tenants/{tenant.pk}/keys", {"name": "extra"}, format="json"), "key")
    ids["key_id"] = str(key.get("id") or key.get("key_id"))
    return seeded
