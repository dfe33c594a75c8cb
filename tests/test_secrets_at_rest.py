"""Secrets at rest: every kind of secret created through the API is absent, in clear,
from every column of every table; keys rotate without losing a value."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from chat.models import Channel, Tool
from siganteng import crypto
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

BOT_TOKEN = "123456:AAE-bot-token-in-clear-never"
SUPPLIED = {
    "telegram": ({}, {"bot_token": BOT_TOKEN, "secret_token": "tg-secret-token-in-clear-0001"}),
    "whatsapp": (
        {"phone_number_id": "106540352242922"},
        {"access_token": "EAAG-access-token-in-clear", "app_secret": "app-secret-in-clear-0002"},
    ),
    "webhook": ({"url": "https://hooks.example.com/in"}, {"signing_secret": "webhook-signing-secret-in-clear"}),
}


def _dump() -> str:
    """Every value of every column of every table, as the database holds it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (names from introspection)
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def _create_every_secret(platform_client) -> tuple[list[str], APIClient]:
    secrets: list[str] = []
    r = platform_client.put("/api/v1/tenants/toko-rahasia/settings", {"name": "Toko Rahasia"}, format="json")
    assert r.status_code == 201, r.content
    secrets.append(r.json()["webhook_secret"])
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=r.json()["api_key"]["key"])
    for kind, (config, supplied) in SUPPLIED.items():
        r = client.post("/api/v1/channels", {"kind": kind, "name": kind, "config": config, "secrets": supplied})
        assert r.status_code == 201, r.content
        secrets += [*supplied.values(), *r.json()["generated_secrets"].values()]
    r = client.post(
        "/api/v1/tools",
        {
            "name": "quote",
            "description": "Quote.",
            "url": "https://tools.example.com/q",
            "parameters": {"type": "object"},
            "signing_secret": "tool-signing-secret-in-clear",
        },
    )
    assert r.status_code == 201, r.content
    secrets.append("tool-signing-secret-in-clear")
    return secrets, client


def test_it_finds_no_secret_in_clear_in_a_database_dump(platform_client):
    secrets, _client = _create_every_secret(platform_client)
    # Tenant webhook secret; Telegram bot + secret token; WhatsApp access token, app
    # secret, verify token; webhook signing secret; tool signing secret.
    assert len(secrets) == 8 and all(len(s) >= 8 for s in secrets)
    dump = _dump()
    assert "Toko Rahasia" in dump  # the dump does hold the rows
    assert [s for s in secrets if s in dump] == []
    # The application still reads every one of them.
    stored = [Tenant.objects.get(pk="toko-rahasia").webhook_secret, Tool.objects.get().signing_secret]
    for channel in Channel.objects.all():
        stored += list(channel.secrets.values())
    assert sorted(stored) == sorted(secrets)


def test_it_rotates_keys_newest_first_without_losing_a_value(platform_client, settings):
    secrets, _client = _create_every_secret(platform_client)
    old = settings.SECRETS_ENCRYPTION_KEYS[0]
    before = _dump()
    new = Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    after = _dump()
    assert before != after and [s for s in secrets if s in after] == []
    settings.SECRETS_ENCRYPTION_KEYS = [new]  # the old key dropped: every value still opens
    assert Tool.objects.get().signing_secret == "tool-signing-secret-in-clear"
    assert Channel.objects.get(kind="telegram").secrets["bot_token"] == BOT_TOKEN
    settings.SECRETS_ENCRYPTION_KEYS = [old]  # only the retired key: nothing opens
    with pytest.raises(crypto.SecretDecryptError):
        Tool.objects.get()


def test_it_requires_a_key_in_production_and_derives_one_in_debug(settings):
    from django.core.exceptions import ImproperlyConfigured

    from siganteng.checks import deployment_checks

    settings.SECRETS_ENCRYPTION_KEYS = []
    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x")
    assert "siganteng.E011" in [p.id for p in deployment_checks()]
    settings.DEBUG = True
    assert crypto.decrypt(crypto.encrypt("x")) == "x"
    assert crypto.configured_keys() == [crypto.development_key()]
    assert "siganteng.E011" not in [p.id for p in deployment_checks()]


@pytest.mark.django_db(transaction=True)
def test_it_encrypts_the_rows_that_existed_before_the_migration():
    from django.db.migrations.executor import MigrationExecutor

    before = [("tenants", "0004_staff_profile_and_invitations"), ("chat", "0001_initial")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before).apps
        tenant = old.get_model("tenants", "Tenant").objects.create(
            id="lama", name="Lama", webhook_secret="whsec_oldclear1"
        )
        old.get_model("chat", "Channel").objects.create(
            tenant_id=tenant.pk, kind="telegram", name="tg", inbound_token="t1", secrets={"bot_token": "1:oldclear2"}
        )
        old.get_model("chat", "Tool").objects.create(
            tenant_id=tenant.pk, name="t", description="d", url="https://x.example", signing_secret="oldclear3"
        )
        assert "oldclear" in _dump()
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
    assert "oldclear" not in _dump()
    assert Tenant.objects.get(pk="lama").webhook_secret == "whsec_oldclear1"
    assert Channel.objects.get().secrets == {"bot_token": "1:oldclear2"}
    assert Tool.objects.get().signing_secret == "oldclear3"
