"""Suite-wide set-up: safe defaults for the environment and the fixtures every app uses.

The suite runs on the embedded default (SQLite, ORM broker) and, with DATABASE_URL and
REDIS_URL set, against real PostgreSQL and Redis. Environment defaults for the suite are
in pyproject.toml (pytest-env); each run gets its own test database (named after its pid).
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

# Fake OpenAI/Gemini servers and their fixtures (fake_openai, fake_gemini).
pytest_plugins = ["siganteng.ai.testing"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and cached matrices never leak between tests."""
    from django.core.cache import cache

    from siganteng.ai import registry

    cache.clear()
    registry.reset()
    yield


@pytest.fixture
def make_tenant(db):
    from tenants.models import Tenant

    def _make(tenant_id: str = "acme", **fields) -> Tenant:
        defaults = {
            "name": tenant_id.replace("-", " ").title(),
            "persona": "You are Sari, a friendly assistant.",
            "sop": "Answer from the knowledge base. Never promise refunds.",
            "locale": "en",
            "timezone": "Asia/Jakarta",
            "working_hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
        defaults.update(fields)
        return Tenant.objects.create(id=tenant_id, **defaults)

    return _make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("acme")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("globex")


@pytest.fixture
def kb(db, kb_docs):
    """``kb(tenant, docs=kb_docs)`` indexes documents inline for ``tenant``; a suite names
    its default documents with a ``kb_docs`` fixture in its conftest."""
    from knowledge import services as knowledge_services

    def _make(tenant, docs=None):
        return [
            knowledge_services.document_upsert(tenant=tenant, external_id=ext, title=title, body=body, index_now=True)
            for ext, title, body in (kb_docs if docs is None else docs)
        ]

    return _make


@pytest.fixture
def make_key(db):
    from tenants.services import api_key_create

    def _make(tenant, scopes: list[str] | None = None, **kw) -> str:
        scopes = scopes or ["chat", "knowledge", "jobs", "followups", "admin"]
        return api_key_create(tenant=tenant, name=kw.pop("name", "test"), scopes=scopes, **kw).full_key

    return _make


@pytest.fixture
def make_client(make_key):
    """``make_client(tenant, scopes=[...])`` → an APIClient sending that tenant's key."""

    def _make(tenant=None, scopes: list[str] | None = None, key: str | None = None) -> APIClient:
        client = APIClient()
        if key is None and tenant is not None:
            key = make_key(tenant, scopes)
        if key:
            client.credentials(HTTP_X_API_KEY=key)
        return client

    return _make


@pytest.fixture
def client_a(make_client, tenant):
    return make_client(tenant)


@pytest.fixture
def client_b(make_client, other_tenant):
    return make_client(other_tenant)


@pytest.fixture
def platform_client(settings):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=settings.ADMIN_API_KEY)
    return client


@pytest.fixture
def allow_private(settings):
    """Let outbound calls reach the suite's local servers on 127.0.0.1."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def local_server():
    """A started :class:`siganteng.testing.LocalServer`; set ``.handler`` in the test."""
    from siganteng.testing import LocalServer

    with LocalServer() as server:
        yield server


@pytest.fixture
def stopping(monkeypatch):
    """This process as a worker of a cluster that may be told to stop: ``stopping(grace)``
    marks the stop (siganteng.shutdown) with ``grace`` seconds for running work."""
    from siganteng import shutdown

    monkeypatch.setattr(shutdown, "_deadline", None)
    shutdown.prepare()
    return lambda grace=0.0: shutdown.begin(grace=grace)
