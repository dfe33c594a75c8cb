"""Tenant isolation across every /api/v1/ route, enumerated from the URL resolver.

Tenant A gets one of everything (see ``seeding.py``). Tenant B, holding a key with every
scope, then:
- requests every route that takes an object id with A's ids, with each method the view
  implements and a body that would be valid for B's own object → 404, never 200/500;
- lists every collection → none of A's ids appear (also when A's ids are given as filters);
- references A's objects inside request bodies (chat, follow-ups) → refused, nothing of A's.
Afterwards A still has all its objects, unchanged.

A new route with a path parameter this file does not know fails
``test_it_knows_how_to_address_every_route`` until it is taught the id, so no route
escapes the check silently.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import URLResolver, get_resolver

from siganteng.tests.seeding import PARAMS, seed_tenant

pytestmark = pytest.mark.django_db

ALL_SCOPES = ["chat", "knowledge", "jobs", "followups", "worker", "admin"]
METHODS = ("get", "post", "put", "patch", "delete")

# Bodies that would be accepted for B's own object, so a 404 is about ownership, not input.
BODIES: dict[tuple[str, str], dict] = {
    ("put", "tenants/<str:tenant_id>/settings"): {"persona": "Taken over."},
    ("post", "tenants/<str:tenant_id>/keys"): {"name": "intruder"},
    ("patch", "kb/sources/<str:source_id>"): {"refresh_minutes": 60},
    ("patch", "tools/<uuid:tool_id>"): {"description": "Taken over."},
    ("patch", "channels/<uuid:channel_id>"): {"name": "Taken over"},
    ("post", "workers/jobs/<uuid:job_id>/heartbeat"): {},
    ("post", "workers/jobs/<uuid:job_id>/progress"): {"progress_percent": 50},
    ("post", "workers/jobs/<uuid:job_id>/upload-ticket"): {"filename": "out.txt", "content_type": "text/plain"},
    ("post", "workers/jobs/<uuid:job_id>/complete"): {"result": {"text": "done"}},
    ("post", "workers/jobs/<uuid:job_id>/fail"): {"error": "boom"},
    ("post", "messages/<uuid:message_id>/feedback"): {"value": "down", "comment": "Taken over."},
}


def _routes() -> list[tuple[str, type]]:
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), getattr(p.callback, "view_class", None)

    return [(r[len("api/v1/") :], cls) for r, cls in walk(get_resolver().url_patterns) if r.startswith("api/v1/")]


ROUTES = _routes()
ID_ROUTES = [(r, c) for r, c in ROUTES if "<" in r]
LIST_ROUTES = [r for r, c in ROUTES if "<" not in r and c is not None and hasattr(c, "get")]
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _methods(cls) -> list[str]:
    return [m for m in METHODS if cls is not None and hasattr(cls, m)]


@pytest.fixture
def world(make_tenant, make_key, make_client):
    a = make_tenant("acme", rate_limit_per_minute=100_000)
    b = make_tenant("globex", rate_limit_per_minute=100_000)
    seeded_a = seed_tenant(make_client(key=make_key(a, ALL_SCOPES)), a)
    assert set(seeded_a.ids) == PARAMS
    client_b = make_client(key=make_key(b, ALL_SCOPES))
    seed_tenant(client_b, b)  # B has objects of its own, so its lists are not trivially empty
    return seeded_a, client_b


def _a_ids(seeded) -> set[str]:
    return {v for k, v in seeded.ids.items() if k not in ("tenant_id", "key_id")}


def test_it_knows_how_to_address_every_route():
    known = PARAMS
    unknown = {(route, name) for route, _ in ID_ROUTES for name in PARAM.findall(route) if name not in known}
    assert not unknown, f"teach seeding.py to create these objects: {sorted(unknown)}"
    assert len(ID_ROUTES) >= 20 and all(_methods(cls) for _, cls in ID_ROUTES)


@pytest.mark.parametrize("route", [r for r, _ in ID_ROUTES])
def test_it_answers_404_for_another_tenants_object_on_every_method(route, world):
    seeded_a, client_b = world
    cls = dict(ID_ROUTES)[route]
    url = "/api/v1/" + PARAM.sub(lambda m: seeded_a.ids[m.group(1)], route)
    a_ids = _a_ids(seeded_a)
    for method in _methods(cls):
        body = BODIES.get((method, route))
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
        resp = getattr(client_b, method)(url, **kwargs)
        assert resp.status_code == 404, f"{method.upper()} {url} as B → {resp.status_code}: {resp.content[:300]!r}"
        error = resp.json()["error"]
        assert error["code"] == "not_found" and set(error) == {"code", "message", "fields"}
        assert not any(i in resp.content.decode() for i in a_ids), f"{method.upper()} {url} leaked an id"


def test_it_leaves_tenant_a_untouched_after_b_tried_every_route(world, make_client, make_key):
    from tenants.models import ApiKey, Tenant

    seeded_a, client_b = world
    client_a = make_client(key=make_key(Tenant.objects.get(pk="acme"), ALL_SCOPES))

    def url_for(route):
        return "/api/v1/" + PARAM.sub(lambda m: seeded_a.ids[m.group(1)], route)

    readable = [route for route, cls in ID_ROUTES if "get" in _methods(cls)]
    before = {route: client_a.get(url_for(route)) for route in readable}
    for route, cls in ID_ROUTES:
        for method in _methods(cls):
            body = BODIES.get((method, route))
            kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body is not None else {}
            getattr(client_b, method)(url_for(route), **kwargs)
    for route in readable:
        after = client_a.get(url_for(route))
        assert after.status_code == before[route].status_code, (
            f"A's {route}: {before[route].status_code} → {after.status_code}"
        )
        if "keys" not in route:  # the keys list shows last_used_at of A's own key
            assert after.content == before[route].content, f"B changed A's {route}"
    assert ApiKey.objects.get(pk=seeded_a.ids["key_id"]).revoked_at is None
    assert Tenant.objects.get(pk="acme").persona != "Taken over."
    from chat.models import Feedback

    assert not Feedback.objects.filter(message_id=seeded_a.ids["message_id"]).exists()


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_it_never_lists_another_tenants_objects(route, world):
    seeded_a, client_b = world
    a_ids = _a_ids(seeded_a)
    filters = {k: v for k, v in seeded_a.ids.items() if k not in ("tenant_id",)}
    for params in ({}, filters, {"tag": "faq"}, {"status": "SCHEDULED"}):
        resp = client_b.get(f"/api/v1/{route}", params)
        assert resp.status_code in (200, 400), f"GET {route} {params} → {resp.status_code}: {resp.content[:300]!r}"
        text = resp.content.decode()
        leaked = [i for i in a_ids if i in text]
        assert not leaked, f"GET /api/v1/{route} {params} as B shows A's {leaked}"


@pytest.mark.parametrize(
    "path,body_for",
    [
        (
            "/api/v1/chat",
            lambda ids: {
                "user_id": "cust-1",
                "conversation_id": ids["conversation_id"],
                "messages": [{"role": "user", "content": "What did we talk about?"}],
            },
        ),
        (
            "/api/v1/followup/schedule",
            lambda ids: {"conversation_id": ids["conversation_id"], "text": "Hi", "delay_seconds": 3600},
        ),
        (
            "/api/v1/followup/schedule",
            lambda ids: {"user_id": "5550001", "channel_id": ids["channel_id"], "text": "Hi", "delay_seconds": 3600},
        ),
    ],
    ids=["chat-conversation", "followup-conversation", "followup-channel"],
)
def test_it_refuses_another_tenants_objects_referenced_in_a_body(path, body_for, world):
    from chat.models import Message
    from followups.models import FollowUp

    seeded_a, client_b = world
    messages = Message.objects.filter(conversation_id=seeded_a.ids["conversation_id"]).count()
    followups = FollowUp.objects.filter(tenant_id="acme").count()
    resp = client_b.post(path, body_for(seeded_a.ids), format="json")
    assert resp.status_code in (400, 404), f"{path} → {resp.status_code}: {resp.content[:300]!r}"
    assert set(resp.json()["error"]) == {"code", "message", "fields"}
    assert Message.objects.filter(conversation_id=seeded_a.ids["conversation_id"]).count() == messages
    assert FollowUp.objects.filter(tenant_id="acme").count() == followups
