"""The staff playground, the admin pages and compose()."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from chat import services
from chat.models import Message, Tool, UsageDaily

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_user("staff", password="pw-for-tests-1", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_the_playground_is_for_staff_only(client, tenant):
    r = client.get("/playground/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    User.objects.create_user("someone", password="pw-for-tests-1")
    client.login(username="someone", password="pw-for-tests-1")
    assert client.get("/playground/").status_code == 302


def test_the_playground_shows_bubbles_sources_and_the_prompt(staff_client, tenant, kb):
    kb(tenant)
    r = staff_client.post(
        "/playground/",
        {"tenant": tenant.pk, "channel": "whatsapp", "user_id": "pg", "text": "How long does shipping to Bali take?"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "3-4 days" in html
    assert "cited" in html and "Shipping" in html
    assert "## Persona" in html and "## Knowledge base passages" in html
    conv_id = r.context["conversation"].pk
    r2 = staff_client.post(
        "/playground/",
        {
            "tenant": tenant.pk,
            "channel": "whatsapp",
            "user_id": "pg",
            "conversation_id": str(conv_id),
            "text": "Returns?",
        },
    )
    assert r2.context["conversation"].pk == conv_id
    assert len(r2.context["turns"]) == 4


def test_the_admin_pages_render(staff_client, tenant, kb):
    kb(tenant)
    result = services.reply(tenant=tenant, user_id="u", channel="api", text="Returns?")
    Tool.objects.create(tenant=tenant, name="t", description="d", url="https://example.com", signing_secret="s")
    for url in (
        "/admin/chat/conversation/",
        f"/admin/chat/conversation/{result.conversation.pk}/change/",
        "/admin/chat/message/",
        "/admin/chat/tool/",
        "/admin/chat/tool/add/",
        "/admin/chat/usagedaily/",
    ):
        assert staff_client.get(url).status_code == 200, url
    assert "this month" in staff_client.get("/admin/chat/usagedaily/").content.decode()


def test_the_tool_admin_keeps_the_secret_when_left_blank(staff_client, tenant):
    tool = Tool.objects.create(
        tenant=tenant,
        name="t",
        description="d",
        url="https://example.com/x",
        signing_secret="keep-me",
        parameters={"type": "object"},
    )
    r = staff_client.post(
        f"/admin/chat/tool/{tool.pk}/change/",
        {
            "tenant": tenant.pk,
            "name": "t",
            "description": "changed",
            "parameters": '{"type": "object"}',
            "url": "https://example.com/x",
            "signing_secret": "",
            "timeout_seconds": "5",
            "enabled": "on",
        },
    )
    assert r.status_code == 302
    tool.refresh_from_db()
    assert tool.description == "changed" and tool.signing_secret == "keep-me"


def test_compose_writes_an_assistant_message_without_a_user_message(tenant, kb):
    kb(tenant)
    first = services.reply(tenant=tenant, user_id="u", channel="api", text="Do you accept returns?")
    before = first.conversation.last_customer_message_at
    result = services.compose(
        tenant=tenant,
        conversation=first.conversation,
        instruction="remind them that returns are accepted within 7 days",
    )
    assert result.user_message is None
    assert result.message.role == "assistant" and result.bubbles
    assert "7 days" in result.text
    assert result.message.metadata["instruction"].startswith("remind them")
    assert Message.objects.filter(conversation=first.conversation, role="user").count() == 1
    result.conversation.refresh_from_db()
    assert result.conversation.last_customer_message_at == before
    assert UsageDaily.objects.get(tenant=tenant).requests == 2


def test_channel_rules_and_max_chars_shape_the_bubbles(tenant, kb):
    kb(tenant)
    tenant.max_bubbles = 20
    tenant.save()
    assert services.channel_rules("whatsapp").max_chars == 600
    result = services.reply(
        tenant=tenant,
        user_id="u",
        channel="telegram",
        text="shipping Bali Jakarta express",
        max_chars=40,
        external_id="tg-1",
    )
    assert len(result.bubbles) > 2
    assert all(len(b) <= 40 or " " not in b for b in result.bubbles)
    assert " ".join(result.bubbles).split() == result.text.split()
    assert result.user_message.external_id == "tg-1"
    assert result.conversation.channel == "telegram"


def test_reply_answers_a_message_the_channel_already_stored(tenant, kb):
    kb(tenant)
    first = services.reply(tenant=tenant, user_id="u", channel="webhook", text="Do you accept returns?")
    conv = first.conversation
    stored = Message.objects.create(
        tenant=tenant, conversation=conv, role="user", content="Shipping to Bali?", external_id="wa-1"
    )
    result = services.reply(tenant=tenant, user_id="u", channel="webhook", text=stored.content, user_message=stored)
    assert result.user_message.pk == stored.pk
    assert Message.objects.filter(conversation=conv, role="user").count() == 2
    sent = [m["content"] for m in result.prompt["messages"]]
    assert sent == ["Do you accept returns?", first.text, "Shipping to Bali?"]
    foreign = Message.objects.create(
        tenant=tenant,
        conversation=services.reply(tenant=tenant, user_id="v", channel="api", text="hi").conversation,
        role="user",
        content="x",
    )
    with pytest.raises(Exception, match="user_message"):
        services.reply(tenant=tenant, user_id="u", channel="webhook", text="x", conversation=conv, user_message=foreign)


def test_a_tenants_staff_sees_and_uses_only_its_own_tenant_in_the_playground(client, tenant, make_tenant, kb):
    """The playground shows a tenant's persona, SOPs, knowledge and prompt: another
    tenant's staff must not pick it (404, nothing written)."""
    from tenants.models import Membership

    kb(tenant)
    other = make_tenant("other-shop")
    user = User.objects.create_user("agent-of-other", password="pw-for-tests-1", is_staff=True)
    Membership.objects.create(user=user, tenant=other, role=Membership.AGENT)
    client.force_login(user)

    page = client.get("/playground/")
    assert page.status_code == 200
    assert [t.pk for t in page.context["tenants"]] == [other.pk]
    assert page.context["tenant"].pk == other.pk
    html = page.content.decode()
    assert "SIGANTENG back-office" in html and "Django administration" not in html  # the back-office's own bar
    assert client.get(f"/playground/?tenant={tenant.pk}").status_code == 404
    before = Message.objects.count()
    r = client.post("/playground/", {"tenant": tenant.pk, "text": "What are your opening hours?", "channel": "api"})
    assert r.status_code == 404
    assert Message.objects.count() == before
