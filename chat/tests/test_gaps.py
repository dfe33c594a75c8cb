"""Knowledge gaps: unanswered and down-rated questions grouped by their analysed terms,
newest first, resolvable by an owner, never another tenant's."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from chat import services
from chat.feedback import feedback_record
from chat.gaps import gap_key
from tenants.models import Membership

pytestmark = pytest.mark.django_db

DOCS = [("shipping", "Shipping", "Shipping to Bali takes 3-4 days. Orders to Jakarta arrive in 1-2 days.")]


def _ask(tenant, user_id: str, text: str):
    return services.reply(tenant=tenant, user_id=user_id, channel="api", text=text)


def _login(client, tenant, role=Membership.OWNER, username="owner"):
    user = User.objects.create_user(username, password="pw-for-tests-1", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    client.force_login(user)
    return client


def test_it_groups_unanswered_and_down_rated_questions_newest_first(client, tenant, other_tenant, kb):
    kb(tenant, DOCS)
    kb(other_tenant, DOCS)
    answered = _ask(tenant, "c1", "How long does shipping to Bali take?")
    assert any(s["cited"] for s in answered.sources)  # answered from the knowledge base: no gap
    _ask(tenant, "c2", "Do you sell gift cards?")
    _ask(tenant, "c3", "Gift cards: do you sell them?")
    disliked = _ask(tenant, "c4", "How long does shipping to Jakarta take?")
    feedback_record(tenant=tenant, message=disliked.message, value="down", source="api")
    _ask(other_tenant, "x1", "Can I pay with crypto?")

    page = _login(client, tenant).get("/admin/analytics/gaps/")
    assert page.status_code == 200
    found = {g.key: g for g in page.context["gaps"]}
    gift = gap_key("Do you sell gift cards?", "english")
    assert set(found) == {gift, gap_key("How long does shipping to Jakarta take?", "english")}
    assert found[gift].count == 2
    assert page.context["gaps"][0].questions[0].reason == "rated_down"  # the newest first
    html = page.content.decode()
    assert "Add a document for this" in html and "/admin/knowledge/document/add/?title=" in html
    assert f"/admin/chat/conversation/{found[gift].questions[0].conversation_id}/change/" in html
    assert "crypto" not in html


def test_an_owner_resolves_a_gap_and_a_new_question_reopens_it(client, tenant, kb):
    kb(tenant, DOCS)
    _ask(tenant, "c2", "Do you sell gift cards?")
    client = _login(client, tenant)
    key = client.get("/admin/analytics/gaps/").context["gaps"][0].key
    assert client.post("/admin/analytics/gaps/", {"key": key}).status_code == 302
    assert client.get("/admin/analytics/gaps/").context["gaps"] == []
    _ask(tenant, "c5", "Gift cards, do you sell those?")
    reopened = client.get("/admin/analytics/gaps/").context["gaps"]
    assert [g.key for g in reopened] == [key] and reopened[0].count == 1


def test_an_agent_sees_gaps_but_cannot_resolve_them(client, tenant, kb):
    kb(tenant, DOCS)
    _ask(tenant, "c2", "Do you sell gift cards?")
    client = _login(client, tenant, role=Membership.AGENT, username="agent")
    page = client.get("/admin/analytics/gaps/")
    assert len(page.context["gaps"]) == 1 and "Mark resolved" not in page.content.decode()
    assert client.post("/admin/analytics/gaps/", {"key": page.context["gaps"][0].key}).status_code == 403
    assert len(client.get("/admin/analytics/gaps/").context["gaps"]) == 1
