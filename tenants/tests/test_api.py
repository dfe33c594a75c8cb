"""Tenant settings and key management API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey, Tenant

HOURS = {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": [["10:00", "14:00"]]}


def _client(key: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_X_API_KEY=key)
    return c


def _assert_error(resp, status: int, code: str | None = None) -> dict:
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.mark.django_db
def test_it_creates_a_tenant_with_the_platform_key_and_returns_a_first_key_once(platform_client):
    resp = platform_client.put(
        "/api/v1/tenants/toko-budi/settings",
        {
            "name": "Toko Budi",
            "persona": "Ramah.",
            "working_hours": HOURS,
            "holidays": ["2026-12-25"],
            "timezone": "Asia/Jakarta",
            "rate_limit_per_minute": 30,
        },
        format="json",
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["id"] == "toko-budi"
    assert body["working_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]  # normalised
    assert body["rate_limit_per_minute"] == 30
    key = body["api_key"]["key"]
    assert key.startswith("sgt_") and body["api_key"]["prefix"] in key
    assert "admin" in body["api_key"]["scopes"]
    # The key works, and a second PUT does not issue another one.
    assert _client(key).get("/api/v1/tenants/toko-budi/settings").status_code == 200
    again = platform_client.put("/api/v1/tenants/toko-budi/settings", {"persona": "Sopan."}, format="json")
    assert again.status_code == 200
    assert again.json()["api_key"] is None
    assert again.json()["persona"] == "Sopan." and again.json()["name"] == "Toko Budi"


@pytest.mark.django_db
def test_it_issues_a_key_when_an_existing_tenant_has_none(platform_client, tenant):
    resp = platform_client.put(f"/api/v1/tenants/{tenant.pk}/settings", {"persona": "x"}, format="json")
    assert resp.status_code == 200
    assert resp.json()["api_key"]["key"].startswith("sgt_")


@pytest.mark.django_db
def test_it_requires_a_name_and_a_valid_slug_on_create(platform_client):
    err = _assert_error(platform_client.put("/api/v1/tenants/new-one/settings", {}, format="json"), 400)
    assert "name" in err["fields"]
    err = _assert_error(platform_client.put("/api/v1/tenants/Bad%20Id/settings", {"name": "x"}, format="json"), 400)
    assert "id" in err["fields"]
    assert not Tenant.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, field",
    [
        ({"working_hours": {"mon": [["09:00", "08:00"]]}}, "working_hours"),
        ({"working_hours": {"funday": [["09:00", "10:00"]]}}, "working_hours"),
        ({"working_hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "working_hours"),
        ({"working_hours": {"mon": [["9am", "12:00"]]}}, "working_hours"),
        ({"working_hours": "always"}, "working_hours"),
        ({"holidays": ["2026-13-01"]}, "holidays"),
        ({"holidays": "2026-12-25"}, "holidays"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"llm_provider": "skynet"}, "llm_provider"),
        ({"llm_temperature": 5}, "llm_temperature"),
        ({"max_bubbles": 0}, "max_bubbles"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_it_names_the_bad_field(platform_client, tenant, payload, field):
    before = Tenant.objects.get(pk=tenant.pk)
    err = _assert_error(platform_client.put(f"/api/v1/tenants/{tenant.pk}/settings", payload, format="json"), 400)
    assert field in err["fields"], err
    after = Tenant.objects.get(pk=tenant.pk)
    assert (after.working_hours, after.holidays, after.timezone) == (
        before.working_hours,
        before.holidays,
        before.timezone,
    )
    assert not ApiKey.objects.filter(tenant=tenant).exists()  # nothing written, not even a first key


@pytest.mark.django_db
def test_it_lets_a_tenant_admin_key_edit_its_own_persona_but_not_its_limits(client_a, tenant):
    ok = client_a.put(
        f"/api/v1/tenants/{tenant.pk}/settings",
        {
            "persona": "Baru",
            "sop": "SOP baru",
            "locale": "id",
            "timezone": "Europe/Amsterdam",
            "working_hours": HOURS,
            "holidays": [],
            "after_hours_message": "Tutup",
            "llm_provider": "openai",
            "max_bubbles": 3,
        },
        format="json",
    )
    assert ok.status_code == 200, ok.content
    tenant.refresh_from_db()
    assert tenant.persona == "Baru" and tenant.timezone == "Europe/Amsterdam" and tenant.max_bubbles == 3
    for field, value in [("rate_limit_per_minute", 10000), ("monthly_token_budget", None), ("is_active", False)]:
        err = _assert_error(
            client_a.put(f"/api/v1/tenants/{tenant.pk}/settings", {field: value, "persona": "X"}, format="json"),
            403,
        )
        assert field in err["fields"] and field in err["message"]
    tenant.refresh_from_db()
    assert tenant.persona == "Baru" and tenant.rate_limit_per_minute == 120 and tenant.is_active


@pytest.mark.django_db
def test_it_does_not_let_a_tenant_key_create_tenants(client_a):
    _assert_error(client_a.put("/api/v1/tenants/brand-new/settings", {"name": "X"}, format="json"), 404)
    assert not Tenant.objects.filter(pk="brand-new").exists()


@pytest.mark.django_db
def test_it_requires_the_admin_scope(make_client, tenant):
    c = make_client(tenant, ["chat", "knowledge"])
    err = _assert_error(c.get(f"/api/v1/tenants/{tenant.pk}/settings"), 403, "permission_denied")
    assert "admin" in err["message"]
    _assert_error(c.get(f"/api/v1/tenants/{tenant.pk}/keys"), 403)


@pytest.mark.django_db
def test_it_answers_404_for_another_tenants_id_on_every_route(client_a, tenant, other_tenant, make_key):
    from tenants.services import api_key_create

    their_key = api_key_create(tenant=other_tenant, name="theirs").api_key
    base = f"/api/v1/tenants/{other_tenant.pk}"
    routes = [
        ("get", f"{base}/settings", None),
        ("put", f"{base}/settings", {"persona": "hijacked"}),
        ("get", f"{base}/keys", None),
        ("post", f"{base}/keys", {"name": "mine now"}),
        ("post", f"{base}/keys/{their_key.pk}/rotate", None),
        ("post", f"{base}/keys/{their_key.pk}/revoke", None),
        # Our own tenant in the URL, their key id: still 404.
        ("post", f"/api/v1/tenants/{tenant.pk}/keys/{their_key.pk}/rotate", None),
        ("post", f"/api/v1/tenants/{tenant.pk}/keys/{their_key.pk}/revoke", None),
    ]
    for method, url, data in routes:
        resp = getattr(client_a, method)(url, data, format="json")
        _assert_error(resp, 404, "not_found")
        assert "globex" not in resp.content.decode().lower().replace(url.lower(), "")
    other_tenant.refresh_from_db()
    their_key.refresh_from_db()
    assert other_tenant.persona != "hijacked"
    assert their_key.revoked_at is None and their_key.rotated_to_id is None
    assert ApiKey.objects.filter(tenant=other_tenant).count() == 1


@pytest.mark.django_db
def test_it_answers_403_for_a_mismatched_tenant_header(make_key, tenant, other_tenant):
    c = _client(make_key(tenant))
    for url in [f"/api/v1/tenants/{tenant.pk}/settings", f"/api/v1/tenants/{tenant.pk}/keys"]:
        _assert_error(c.get(url, HTTP_X_TENANT_ID=other_tenant.pk), 403, "permission_denied")
    assert c.get(f"/api/v1/tenants/{tenant.pk}/settings", HTTP_X_TENANT_ID=tenant.pk).status_code == 200


@pytest.mark.django_db
def test_it_answers_404_for_unknown_tenants_and_keys_to_the_platform(platform_client, tenant):
    _assert_error(platform_client.get("/api/v1/tenants/nobody/settings"), 404)
    _assert_error(platform_client.post(f"/api/v1/tenants/{tenant.pk}/keys/999999/rotate"), 404)
    _assert_error(platform_client.post(f"/api/v1/tenants/{tenant.pk}/keys/999999/revoke"), 404)


@pytest.mark.django_db
def test_it_creates_lists_rotates_and_revokes_keys(client_a, tenant, settings):
    settings.API_KEY_ROTATION_GRACE_SECONDS = 3600
    created = client_a.post(f"/api/v1/tenants/{tenant.pk}/keys", {"name": "ci", "scopes": ["knowledge"]}, format="json")
    assert created.status_code == 201, created.content
    new = created.json()
    assert new["scopes"] == ["knowledge"] and new["status"] == "active"
    full = new["key"]
    listed = client_a.get(f"/api/v1/tenants/{tenant.pk}/keys")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert {r["name"] for r in rows} == {"test", "ci"}
    assert all("key" not in r for r in rows)
    assert full not in listed.content.decode() and full.split("_")[-1] not in listed.content.decode()

    rotated = client_a.post(f"/api/v1/tenants/{tenant.pk}/keys/{new['id']}/rotate")
    assert rotated.status_code == 201, rotated.content
    body = rotated.json()
    assert body["new_key"]["key"] != full and body["new_key"]["scopes"] == ["knowledge"]
    assert body["old_key"]["rotated_to"] == body["new_key"]["id"]
    expires = dt.datetime.fromisoformat(body["old_key"]["expires_at"])
    assert abs((expires - timezone.now()).total_seconds() - 3600) < 60
    # Both keys work during the grace period.
    assert _client(full).get("/api/v1/knowledge-probe-does-not-exist").status_code == 404
    from tenants.auth import authenticate_key

    assert authenticate_key(full).api_key.pk == new["id"]
    assert authenticate_key(body["new_key"]["key"]).api_key.pk == body["new_key"]["id"]
    # Rotating twice is a conflict.
    _assert_error(client_a.post(f"/api/v1/tenants/{tenant.pk}/keys/{new['id']}/rotate"), 409)

    revoked = client_a.post(f"/api/v1/tenants/{tenant.pk}/keys/{body['new_key']['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = client_a.post(f"/api/v1/tenants/{tenant.pk}/keys/{body['new_key']['id']}/revoke")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    _assert_error(client_a.post(f"/api/v1/tenants/{tenant.pk}/keys/{body['new_key']['id']}/rotate"), 409)


@pytest.mark.django_db
def test_it_expires_the_old_key_after_the_grace_period(make_key, tenant, settings):
    from tenants.services import api_key_create, api_key_rotate

    issued = api_key_create(tenant=tenant, name="old")
    api_key_rotate(api_key=issued.api_key, grace_seconds=0)
    _assert_error(_client(issued.full_key).get(f"/api/v1/tenants/{tenant.pk}/settings"), 401)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": "x", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "expires_at": "yesterday"}, "expires_at"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_it_rejects_bad_key_input(client_a, tenant, payload, field):
    err = _assert_error(client_a.post(f"/api/v1/tenants/{tenant.pk}/keys", payload, format="json"), 400)
    assert field in err["fields"]
    assert ApiKey.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_it_paginates_key_lists_with_a_cursor(platform_client, tenant):
    from tenants.services import api_key_create

    for i in range(5):
        api_key_create(tenant=tenant, name=f"k{i}")
    first = platform_client.get(f"/api/v1/tenants/{tenant.pk}/keys?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = platform_client.get(first["next"]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})


@pytest.mark.django_db
def test_it_reports_opening_status_in_settings(client_a, tenant):
    body = client_a.get(f"/api/v1/tenants/{tenant.pk}/settings").json()
    assert isinstance(body["is_open_now"], bool)
    assert (body["next_opening"] is None) == body["is_open_now"]
    assert body["webhook_secret"] == tenant.webhook_secret
    # Open every day, all day: open now, and no "next opening" that would change each read.
    tenant.working_hours = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    tenant.save()
    body = client_a.get(f"/api/v1/tenants/{tenant.pk}/settings").json()
    assert body["is_open_now"] is True and body["next_opening"] is None
    # Closed every day but one: a fixed future instant.
    tenant.working_hours = {"sun": [["10:00", "11:00"]]}
    tenant.holidays = []
    tenant.save()
    first = client_a.get(f"/api/v1/tenants/{tenant.pk}/settings").json()
    if not first["is_open_now"]:
        assert first["next_opening"] == client_a.get(f"/api/v1/tenants/{tenant.pk}/settings").json()["next_opening"]


@pytest.mark.django_db
def test_it_lets_the_platform_change_limits_and_disable_a_tenant(platform_client, make_key, tenant):
    key = make_key(tenant)
    resp = platform_client.put(
        f"/api/v1/tenants/{tenant.pk}/settings",
        {"rate_limit_per_minute": 5, "monthly_token_budget": 1000000, "is_active": False},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["monthly_token_budget"] == 1000000 and resp.json()["is_active"] is False
    # A disabled tenant's keys stop working at once; the platform still sees it.
    _assert_error(_client(key).get(f"/api/v1/tenants/{tenant.pk}/settings"), 401)
    assert platform_client.get(f"/api/v1/tenants/{tenant.pk}/settings").status_code == 200
