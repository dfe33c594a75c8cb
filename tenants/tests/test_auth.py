"""Authentication, scopes, throttling, CORS, and where key secrets (never) end up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from tenants import keys
from tenants.models import ApiKey
from tenants.services import api_key_create, api_key_revoke


def _client(key: str, bearer: bool = False) -> APIClient:
    c = APIClient()
    if bearer:
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    else:
        c.credentials(HTTP_X_API_KEY=key)
    return c


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.django_db
def test_it_accepts_x_api_key_and_bearer(make_key, tenant):
    key = make_key(tenant)
    url = f"/api/v1/tenants/{tenant.pk}/settings"
    assert _client(key).get(url).status_code == 200
    assert _client(key, bearer=True).get(url).status_code == 200


@pytest.mark.django_db
def test_it_answers_revoked_expired_and_malformed_keys_with_401(tenant):
    url = f"/api/v1/tenants/{tenant.pk}/settings"
    revoked = api_key_create(tenant=tenant, name="r", scopes=["admin"])
    api_key_revoke(api_key=revoked.api_key)
    expired = api_key_create(tenant=tenant, name="e", scopes=["admin"])
    ApiKey.objects.filter(pk=expired.api_key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    good = api_key_create(tenant=tenant, name="g", scopes=["admin"]).full_key
    wrong_secret = good[:-4] + ("aaaa" if not good.endswith("aaaa") else "bbbb")
    cases = {
        revoked.full_key: "revoked",
        expired.full_key: "expired",
        "not-a-key": "Malformed",
        "sgt_short": "Malformed",
        wrong_secret: "Invalid",
        "sgt_aaaaaaaaaaaa_" + "x" * 43: "Invalid",  # well formed, unknown prefix
    }
    for key, words in cases.items():
        for bearer in (False, True):
            resp = _client(key, bearer=bearer).get(url)
            err = _error(resp, 401, "authentication_failed")
            assert words in err["message"]
            assert "WWW-Authenticate" in resp


@pytest.mark.django_db
def test_it_answers_401_for_a_disabled_tenant(make_key, tenant):
    key = make_key(tenant)
    tenant.is_active = False
    tenant.save()
    _error(_client(key).get(f"/api/v1/tenants/{tenant.pk}/settings"), 401, "authentication_failed")


@pytest.mark.django_db
def test_it_answers_a_key_without_the_scope_with_403(make_key, tenant):
    key = make_key(tenant, ["knowledge"])
    err = _error(_client(key).get(f"/api/v1/tenants/{tenant.pk}/keys"), 403, "permission_denied")
    assert "'admin'" in err["message"]


@pytest.mark.django_db
def test_it_records_last_used_at_at_most_once_a_minute(make_key, tenant):
    key = make_key(tenant)
    api_key = ApiKey.objects.get(prefix=keys.parse(key)[0])
    assert api_key.last_used_at is None
    _client(key).get(f"/api/v1/tenants/{tenant.pk}/settings")
    api_key.refresh_from_db()
    first = api_key.last_used_at
    assert first is not None
    _client(key).get(f"/api/v1/tenants/{tenant.pk}/settings")
    api_key.refresh_from_db()
    assert api_key.last_used_at == first


@pytest.mark.django_db
def test_it_throttles_per_tenant_at_its_limit_with_retry_after(make_key, make_tenant, platform_client):
    small = make_tenant("small", rate_limit_per_minute=3)
    key = make_key(small)
    other_key = make_key(small)
    c = _client(key)
    url = f"/api/v1/tenants/{small.pk}/settings"
    assert [c.get(url).status_code for _ in range(3)] == [200, 200, 200]
    resp = c.get(url)
    _error(resp, 429, "rate_limited")
    assert 1 <= int(resp["Retry-After"]) <= 60
    # The limit is the tenant's: a second key of the same tenant gets no fresh allowance.
    _error(_client(other_key).get(url), 429, "rate_limited")
    # Another tenant has its own, and the platform key is not throttled.
    roomy = make_tenant("roomy", rate_limit_per_minute=3)
    assert _client(make_key(roomy)).get(f"/api/v1/tenants/{roomy.pk}/settings").status_code == 200
    assert all(platform_client.get(url).status_code == 200 for _ in range(5))


@pytest.mark.django_db
def test_it_sends_cors_headers_only_to_allowed_origins(client_a, tenant, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example"]
    url = f"/api/v1/tenants/{tenant.pk}/settings"
    allowed = client_a.get(url, HTTP_ORIGIN="https://shop.example")
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    preflight = client_a.options(
        url,
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-api-key, content-type",
    )
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "x-api-key" in preflight["Access-Control-Allow-Headers"]
    other = client_a.get(url, HTTP_ORIGIN="https://evil.example")
    assert not any(h.lower().startswith("access-control-") for h in other.headers)


def _text_columns() -> list[tuple[str, str]]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                found.append((table, column.name))
    return found


@pytest.mark.django_db
def test_it_never_stores_a_key_secret_in_any_column(platform_client, tenant, admin_client):
    secrets_seen: list[str] = []
    created = platform_client.put("/api/v1/tenants/fresh/settings", {"name": "Fresh"}, format="json").json()
    secrets_seen.append(created["api_key"]["key"])
    resp = platform_client.post(f"/api/v1/tenants/{tenant.pk}/keys", {"name": "a"}, format="json").json()
    secrets_seen.append(resp["key"])
    rotated = platform_client.post(f"/api/v1/tenants/{tenant.pk}/keys/{resp['id']}/rotate").json()
    secrets_seen.append(rotated["new_key"]["key"])
    # The admin path too (the key is shown once in a message, which must not be stored server-side).
    resp = admin_client.post(
        "/admin/tenants/apikey/add/", {"tenant": tenant.pk, "name": "from admin", "scopes": ["chat"]}, follow=True
    )
    shown = " ".join(str(m) for m in resp.context["messages"])
    secrets_seen.append(shown.split("<code>")[1].split("</code>")[0])
    # Use every key once, so last_used_at and the session/throttle paths have run.
    for key in secrets_seen:
        _client(key).get("/api/v1/tenants/whatever/settings")
    needles = []
    for key in secrets_seen:
        prefix, secret = keys.parse(key)
        needles += [key, secret]
    columns = _text_columns()
    assert len(columns) > 50
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column in columns:
            for needle in needles:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qn(table)} WHERE CAST({qn(column)} AS TEXT) LIKE %s",
                    [f"%{needle}%"],
                )
                assert cursor.fetchone()[0] == 0, f"{table}.{column} holds a key secret"
    # Sanity: the search does find what is stored (the public prefix).
    prefix = keys.parse(secrets_seen[0])[0]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {qn('tenants_apikey')} WHERE prefix LIKE %s", [f"%{prefix}%"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
@pytest.mark.urls("tenants.tests.urls_probe")
def test_it_resolves_the_acting_tenant_for_keys_the_platform_and_staff(
    make_key, tenant, other_tenant, platform_client, admin_client
):
    assert _client(make_key(tenant, ["chat"])).get("/probe").json() == {"tenant": "acme", "platform": False}
    # The platform key and staff sessions name the tenant in X-Tenant-Id.
    err = _error(platform_client.get("/probe"), 400, "validation_error")
    assert "X-Tenant-Id" in err["fields"]
    assert platform_client.get("/probe", HTTP_X_TENANT_ID="globex").json() == {"tenant": "globex", "platform": True}
    _error(platform_client.get("/probe", HTTP_X_TENANT_ID="nobody"), 404, "not_found")
    assert admin_client.get("/probe", HTTP_X_TENANT_ID="acme").json()["platform"] is True


@pytest.mark.django_db
def test_it_lets_staff_sessions_manage_tenants_but_not_plain_users(admin_client, django_user_model):
    resp = admin_client.put(
        "/api/v1/tenants/via-staff/settings", {"name": "Via Staff"}, content_type="application/json"
    )
    assert resp.status_code == 201
    django_user_model.objects.create_user("plain", password="pw-123456789")
    from django.test import Client

    c = Client()
    c.login(username="plain", password="pw-123456789")
    _error(c.get("/api/v1/tenants/via-staff/settings"), 401, "not_authenticated")
