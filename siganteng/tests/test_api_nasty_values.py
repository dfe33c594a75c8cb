"""Values the schema fuzzer rarely draws, sent to every write and list operation."""

from __future__ import annotations

import json

import pytest

from siganteng.tests.seeding import seed_tenant
from siganteng.tests.test_api_fuzz import ALL_SCOPES, OPERATIONS, _schema_dict

pytestmark = pytest.mark.django_db

NASTY = [
    "nul\x00byte",
    {"k": "nul\x00"},  # PostgreSQL's jsonb refuses \u0000 too
    ["nul\x00"],
    2**70,
    -(2**70),
    1e308,
    "",
    " ",
    "\ud800",
    [],
    {},
    None,
    True,
    "x" * 20000,
    "0" * 50,
    "../../etc",
]


RAW = _schema_dict()


def _body_fields(op) -> list[str]:
    spec = RAW["paths"][op.path][op.method.lower()]
    content = spec.get("requestBody", {}).get("content", {})
    schema = (content.get("application/json") or content.get("multipart/form-data") or {}).get("schema", {})
    ref = schema.get("$ref")
    if ref:
        schema = RAW["components"]["schemas"][ref.split("/")[-1]]
    return list(schema.get("properties", {}))


@pytest.fixture
def seeded(make_tenant, make_client, make_key):
    tenant = make_tenant("acme", rate_limit_per_minute=1_000_000)
    key = make_key(tenant, ALL_SCOPES)
    client = make_client(key=key)
    return seed_tenant(client, tenant), client


def test_it_answers_4xx_not_5xx_to_nasty_values_in_every_field(seeded):
    seeds, client = seeded
    failures = []
    for op in OPERATIONS:
        path = op.path
        for p in op.path_parameters:
            path = path.replace("{" + p.name + "}", str(seeds.ids.get(p.name, "x")))
        method = op.method.lower()
        fields = _body_fields(op) if method in ("post", "put", "patch") else [p.name for p in op.query]
        for field in fields or ["_none"]:
            for value in NASTY:
                if value == "\ud800" and method not in ("post", "put", "patch"):
                    continue  # not encodable in a URL; only JSON can carry a lone surrogate
                try:
                    if method in ("post", "put", "patch"):
                        raw = json.dumps({field: value}, allow_nan=True)
                        resp = getattr(client, method)(path, data=raw, content_type="application/json")
                    else:
                        resp = getattr(client, method)(
                            path, {field: json.dumps(value) if not isinstance(value, str) else value}
                        )
                except Exception as exc:  # the test client re-raises view exceptions
                    failures.append(f"{op.method.upper()} {path} {field}={value!r:.40}: {type(exc).__name__}: {exc}")
                    continue
                if resp.status_code >= 500:
                    failures.append(f"{op.method.upper()} {path} {field}={value!r:.40}: {resp.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "raw",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, '{"name": "\\ud800", "kind": "\\udfff"}'],
    ids=["deep-list", "deep-object", "unpaired-surrogate"],  # 401: the signed demo tool checks its signature first
)
def test_it_refuses_unparseable_json_as_a_400_on_every_json_operation(raw, seeded):
    seeds, client = seeded
    for op in OPERATIONS:
        method = op.method.lower()
        if method not in ("post", "put", "patch") or "requestBody" not in RAW["paths"][op.path][method]:
            continue  # operations without a body never parse one
        path = op.path
        for p in op.path_parameters:
            path = path.replace("{" + p.name + "}", str(seeds.ids.get(p.name, "x")))
        resp = getattr(client, method)(path, data=raw, content_type="application/json")
        assert resp.status_code in (400, 401, 404, 415), (
            f"{op.method.upper()} {path} → {resp.status_code}: {resp.content[:200]!r}"
        )
        if not path.startswith("/v1/"):
            assert set(resp.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"update_id": 1, "message": {"message_id": 7, "chat": {"id": 5}, "text": "\\ud800"}}',
    ],
    ids=["deep-list", "unpaired-surrogate"],
)
def test_it_refuses_unparseable_json_on_a_verified_inbound_webhook(raw, tenant):
    from django.test import Client

    from chat.channels.services import channel_create
    from chat.models import InboundEvent, Message

    channel, _ = channel_create(
        tenant=tenant,
        kind="telegram",
        name="Bot",
        config={},
        secrets={"bot_token": "123456789:AAE-test_token_0123456789abcdefghi", "secret_token": "tg-secret-0123456789"},
    )
    resp = Client().post(
        f"/channels/telegram/{channel.inbound_token}/",
        data=raw,
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "parse_error"
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_it_names_the_path_of_a_nul_nested_in_a_json_field(seeded):
    seeds, client = seeded
    url = f"/api/v1/channels/{seeds.ids['channel_id']}"
    resp = client.patch(url, {"config": {"chat": {"note": "a\x00b"}}}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"config.chat.note": ["Null characters are not allowed."]}
    assert client.get(url).status_code == 200  # nothing was written, the transaction is intact
