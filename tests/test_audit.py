"""The audit log: staff actions on a tenant's objects are recorded with the fields they
changed, never a secret's value; owners read their tenant's log, nobody edits it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Channel, Tool
from tenants import keys
from tenants.models import ApiKey, AuditEntry, Membership
from tests.test_secrets_at_rest import _dump

pytestmark = pytest.mark.django_db

NEW_WEBHOOK_SECRET = "whsec_new-webhook-secret-never-logged"
NEW_TOOL_SECRET = "tool-secret-never-logged-0001"
NEW_BOT_TOKEN = "999:bot-token-never-logged"


def _tenant_form(tenant, **over) -> dict:
    data = {
        "name": tenant.name,
        "locale": "id",
        "timezone": "Asia/Makassar",
        "persona": "Sari, ramah dan singkat.",
        "sop": "Jawab dari basis pengetahuan.",
        "after_hours_message": "",
        "max_bubbles": "4",
        "working_hours_text": "mon: 09:00-17:00",
        "holidays_text": "",
        "llm_model": "",
        "llm_provider": "extractive",
        "llm_fallback_provider": "",
        "llm_temperature": "0.3",
        "llm_fallback_model": "",
        "webhook_secret": NEW_WEBHOOK_SECRET,
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
    }
    return {**data, **over}


def test_it_records_staff_actions_with_changed_fields_and_no_secret(client, world):
    tenant = world.alpha
    client.force_login(world.users[Membership.OWNER])
    r = client.post(reverse("admin:tenants_tenant_change", args=[tenant.pk]), _tenant_form(tenant))
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    # A key created, rotated and revoked in the back-office; its value shown once.
    r = client.post(
        reverse("admin:tenants_apikey_add"), {"tenant": tenant.pk, "name": "kasir", "scopes": ["chat"]}, follow=True
    )
    shown = next(str(m.message) for m in r.context["messages"] if "<code>" in str(m.message))
    full_key = shown.split("<code>")[1].split("</code>")[0]
    key = ApiKey.objects.get(name="kasir", revoked_at__isnull=True)
    changelist = reverse("admin:tenants_apikey_changelist")
    client.post(changelist, {"action": "rotate_keys", "_selected_action": [key.pk]})
    client.post(changelist, {"action": "revoke_keys", "_selected_action": [key.pk]})
    channel = world.rows["alpha"][Channel][0]
    r = client.post(
        reverse("admin:chat_channel_change", args=[channel.pk]),
        {
            "tenant": tenant.pk,
            "kind": "webhook",
            "name": "renamed",
            "config": '{"url": "http://127.0.0.1:9/hook"}',
            "enabled": "on",
            "new_secrets": f'{{"signing_secret": "{NEW_BOT_TOKEN}"}}',
        },
    )
    assert r.status_code == 302, r.context["adminform"].form.errors
    tool = world.rows["alpha"][Tool][0]
    r = client.post(
        reverse("admin:chat_tool_change", args=[tool.pk]),
        {
            "tenant": tenant.pk,
            "name": tool.name,
            "description": "Quote shipping.",
            "parameters": '{"type": "object"}',
            "url": tool.url,
            "signing_secret": NEW_TOOL_SECRET,
            "timeout_seconds": "10",
            "enabled": "on",
        },
    )
    assert r.status_code == 302, r.context["adminform"].form.errors

    entries = {e.action: e for e in AuditEntry.objects.filter(tenant=tenant, actor=world.users[Membership.OWNER])}
    assert {
        "tenant.update",
        "api_key.create",
        "api_key.rotate",
        "api_key.revoke",
        "channel.update",
        "tool.update",
    } <= set(entries)
    changed = entries["tenant.update"].changes
    assert changed["persona"][1] == "Sari, ramah dan singkat." and changed["timezone"] == [
        "Asia/Jakarta",
        "Asia/Makassar",
    ]
    assert changed["webhook_secret"] == "(changed)"
    assert entries["tool.update"].changes["signing_secret"] == "(changed)"
    assert entries["channel.update"].changes["new_secrets"] == "(changed)"
    assert entries["channel.update"].changes["name"][1] == "renamed"
    # The values themselves are nowhere in the log: not in its rows, not on its pages.
    _prefix, key_secret = keys.parse(full_key)
    secrets = [NEW_WEBHOOK_SECRET, NEW_TOOL_SECRET, NEW_BOT_TOKEN, full_key, key_secret]
    rows = repr(list(AuditEntry.objects.values()))
    assert [s for s in secrets if s in rows] == []
    pages = client.get(reverse("admin:tenants_auditentry_changelist")).content.decode()
    for entry in entries.values():
        pages += client.get(reverse("admin:tenants_auditentry_change", args=[entry.pk])).content.decode()
    assert "api_key.rotate" in pages and [s for s in secrets if s in pages] == []
    assert [s for s in secrets if s in _dump()] == []


def test_it_lets_owners_read_the_log_and_nobody_change_it(client, world, django_user_model):
    entry = world.rows["alpha"][AuditEntry][0]
    change = reverse("admin:tenants_auditentry_change", args=[entry.pk])
    delete = reverse("admin:tenants_auditentry_delete", args=[entry.pk])
    client.force_login(world.users[Membership.OWNER])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    client.post(change, {"action": "hacked"})
    assert client.post(delete, {"post": "yes"}).status_code == 403
    client.force_login(world.users[Membership.AGENT])
    assert client.get(reverse("admin:tenants_auditentry_changelist")).status_code == 403
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:tenants_auditentry_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "alphamark.test"


def test_it_records_actions_on_selected_rows(client, world):
    from followups.models import FollowUp

    followup = world.rows["alpha"][FollowUp][0]
    client.force_login(world.users[Membership.AGENT])
    client.post(reverse("admin:followups_followup_changelist"), {"action": "cancel", "_selected_action": [followup.pk]})
    entry = AuditEntry.objects.get(action="followup.cancel")
    assert entry.actor == world.users[Membership.AGENT] and entry.object_id == str(followup.pk)
