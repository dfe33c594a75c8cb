"""``/api/v1/channels``: CRUD, write-only secrets, per-kind validation, tenant isolation."""

from __future__ import annotations

import pytest

from chat.channels.tests.fakes import BOT_TOKEN
from chat.models import Channel

pytestmark = pytest.mark.django_db


def _create(client, **body):
    body = {"kind": "telegram", "name": "Bot", "secrets": {"bot_token": BOT_TOKEN}, **body}
    return client.post("/api/v1/channels", body, format="json")


def test_it_creates_a_channel_and_never_returns_secret_values(client_a):
    resp = _create(client_a)
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["secrets_set"] == ["bot_token", "secret_token"]
    assert "secrets" not in data and BOT_TOKEN not in str(data)
    # the generated secret token is shown once, to configure setWebhook
    assert set(data["generated_secrets"]) == {"secret_token"}
    assert data["inbound_url"].endswith(f"/channels/telegram/{Channel.objects.get().inbound_token}/")
    listed = client_a.get("/api/v1/channels").json()
    assert [c["id"] for c in listed["results"]] == [data["id"]]
    assert "generated_secrets" not in listed["results"][0] and BOT_TOKEN not in str(listed)
    assert BOT_TOKEN not in str(client_a.get(f"/api/v1/channels/{data['id']}").json())


@pytest.mark.parametrize(
    "body,field",
    [
        ({"kind": "sms"}, "kind"),
        ({"name": ""}, "name"),
        ({"secrets": {"bot_token": "nope"}}, "secrets.bot_token"),
        ({"kind": "whatsapp", "config": {"phone_number_id": "abc"}, "secrets": {}}, "config.phone_number_id"),
        (
            {"kind": "whatsapp", "config": {"phone_number_id": "1"}, "secrets": {"access_token": "x"}},
            "secrets.app_secret",
        ),
        ({"kind": "webhook", "config": {"url": "ftp://x"}}, "config.url"),
        ({"config": "not-an-object"}, "config"),
    ],
)
def test_it_rejects_bad_channel_input_naming_the_field(client_a, body, field):
    resp = _create(client_a, **body)
    assert resp.status_code == 400
    assert field in resp.json()["error"]["fields"]
    assert not Channel.objects.exists()


def test_it_updates_merges_secrets_and_reenables(client_a, tenant):
    channel_id = _create(client_a).json()["id"]
    Channel.objects.filter(pk=channel_id).update(enabled=False, disabled_reason="revoked token")
    resp = client_a.patch(
        f"/api/v1/channels/{channel_id}",
        {"name": "Sari bot", "enabled": True, "secrets": {"secret_token": "new-secret-1"}},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    channel = Channel.objects.get()
    assert channel.name == "Sari bot" and channel.enabled and channel.disabled_reason == ""
    assert channel.secrets == {"bot_token": BOT_TOKEN, "secret_token": "new-secret-1"}
    bad = client_a.patch(f"/api/v1/channels/{channel_id}", {"secrets": {"bot_token": "bad"}}, format="json")
    assert bad.status_code == 400 and "secrets.bot_token" in bad.json()["error"]["fields"]
    assert Channel.objects.get().secrets["bot_token"] == BOT_TOKEN


def test_it_deletes_a_channel(client_a):
    channel_id = _create(client_a).json()["id"]
    assert client_a.delete(f"/api/v1/channels/{channel_id}").status_code == 204
    assert not Channel.objects.exists()


def test_it_hides_channels_of_other_tenants(client_a, client_b):
    channel_id = _create(client_a).json()["id"]
    assert client_b.get("/api/v1/channels").json()["results"] == []
    assert client_b.get(f"/api/v1/channels/{channel_id}").status_code == 404
    assert client_b.patch(f"/api/v1/channels/{channel_id}", {"name": "x"}, format="json").status_code == 404
    assert client_b.delete(f"/api/v1/channels/{channel_id}").status_code == 404
    assert Channel.objects.get().name == "Bot"


def test_it_requires_the_admin_scope(make_client, tenant):
    client = make_client(tenant, scopes=["chat", "followups"])
    assert client.get("/api/v1/channels").status_code == 403
