"""The back-office: readable working hours, keys shown once, rotate/revoke actions."""

from __future__ import annotations

import pytest

from tenants import hours
from tenants.models import ApiKey, Tenant
from tenants.services import api_key_create


def _tenant_form(**over) -> dict:
    data = {
        "id": "warung",
        "name": "Warung",
        "is_active": "on",
        "locale": "id",
        "timezone": "Asia/Jakarta",
        "persona": "Ramah",
        "sop": "",
        "after_hours_message": "",
        "max_bubbles": "4",
        "working_hours_text": "mon: 09:00-12:00, 13:00-17:00\nsat: 10:00-14:00\nsun: closed",
        "holidays_text": "2026-12-25, 2026-08-17",
        "llm_provider": "extractive",
        "llm_model": "",
        "llm_temperature": "0.3",
        "llm_fallback_provider": "",
        "llm_fallback_model": "",
        "rate_limit_per_minute": "120",
        "monthly_token_budget": "",
        "webhook_secret": "whsec_x",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
    }
    data.update(over)
    return data


def test_it_round_trips_working_hours_as_text():
    text = "mon: 09:00-12:00, 13:00-17:00\nfri: 08:00-24:00"
    parsed = hours.hours_from_text(text + "\n\nsun: closed\n")
    assert parsed == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["08:00", "24:00"]]}
    assert hours.hours_to_text(parsed) == text
    for bad in [
        "monday: 09:00-10:00",
        "mon 09:00-10:00",
        "mon: 09:00",
        "mon: 10:00-09:00",
        "mon: 09:00-10:00\nmon: 11:00-12:00",
        "tue: 09:00-12:00, 11:00-13:00",
    ]:
        with pytest.raises(hours.HoursError):
            hours.hours_from_text(bad)


@pytest.mark.django_db
def test_it_creates_a_tenant_with_readable_hours_and_a_key_shown_once(admin_client):
    data = _tenant_form(
        **{
            "api_keys-TOTAL_FORMS": "1",
            "api_keys-0-name": "website",
            "api_keys-0-scopes": ["chat", "knowledge"],
            "api_keys-0-expires_at_0": "",
            "api_keys-0-expires_at_1": "",
        }
    )
    resp = admin_client.post("/admin/tenants/tenant/add/", data, follow=True)
    assert resp.status_code == 200
    tenant = Tenant.objects.get(pk="warung")
    assert tenant.working_hours == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "14:00"]]}
    assert tenant.holidays == ["2026-08-17", "2026-12-25"]
    api_key = ApiKey.objects.get(tenant=tenant)
    assert api_key.scopes == ["chat", "knowledge"]
    shown = [str(m) for m in resp.context["messages"]]
    assert any(f"sgt_{api_key.prefix}_" in m for m in shown)
    # The change page shows the hours as text, and no secret.
    page = admin_client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert "mon: 09:00-12:00, 13:00-17:00" in page
    assert api_key.prefix in page


@pytest.mark.django_db
def test_it_rejects_bad_hours_in_the_admin_and_names_the_problem(admin_client):
    resp = admin_client.post("/admin/tenants/tenant/add/", _tenant_form(working_hours_text="mon: 17:00-09:00"))
    assert resp.status_code == 200
    assert "ends before it starts" in resp.content.decode()
    resp = admin_client.post("/admin/tenants/tenant/add/", _tenant_form(holidays_text="25/12/2026"))
    assert "is not a YYYY-MM-DD date" in resp.content.decode()
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_it_creates_rotates_and_revokes_keys_from_the_key_admin(admin_client, tenant):
    resp = admin_client.post(
        "/admin/tenants/apikey/add/", {"tenant": tenant.pk, "name": "ops", "scopes": ["jobs"]}, follow=True
    )
    assert resp.status_code == 200
    api_key = ApiKey.objects.get(tenant=tenant, name="ops")
    assert any(f"sgt_{api_key.prefix}_" in str(m) for m in resp.context["messages"])

    resp = admin_client.post(
        "/admin/tenants/apikey/", {"action": "rotate_keys", "_selected_action": [api_key.pk]}, follow=True
    )
    api_key.refresh_from_db()
    assert api_key.rotated_to is not None and api_key.expires_at is not None
    assert any(f"sgt_{api_key.rotated_to.prefix}_" in str(m) for m in resp.context["messages"])

    admin_client.post("/admin/tenants/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


@pytest.mark.django_db
def test_it_reaches_the_task_queue_admin_and_shows_the_brand(admin_client, tenant, settings):
    api_key_create(tenant=tenant, name="k")
    urls = [
        "/admin/",
        "/admin/django_q/schedule/",
        "/admin/django_q/success/",
        "/admin/django_q/failure/",
        "/admin/tenants/tenant/",
        "/admin/tenants/apikey/",
        f"/admin/tenants/tenant/{tenant.pk}/change/",
    ]
    if not settings.REDIS_URL:
        urls.append("/admin/django_q/ormq/")  # django-q2 lists queued tasks only for its ORM broker
    for url in urls:
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
    assert "SIGANTENG back-office" in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_it_edits_a_tenant_and_its_existing_keys_inline(admin_client, tenant):
    issued = api_key_create(tenant=tenant, name="old name", scopes=["chat"])
    data = _tenant_form(
        **{
            "id": tenant.pk,
            "name": "Renamed",
            "working_hours_text": "tue: 08:00-16:00",
            "api_keys-TOTAL_FORMS": "1",
            "api_keys-INITIAL_FORMS": "1",
            "api_keys-0-id": str(issued.api_key.pk),
            "api_keys-0-tenant": tenant.pk,
            "api_keys-0-name": "new name",
            "api_keys-0-scopes": ["chat", "jobs"],
            "api_keys-0-expires_at_0": "",
            "api_keys-0-expires_at_1": "",
        }
    )
    resp = admin_client.post(f"/admin/tenants/tenant/{tenant.pk}/change/", data, follow=True)
    assert resp.status_code == 200
    tenant.refresh_from_db()
    issued.api_key.refresh_from_db()
    assert tenant.name == "Renamed" and tenant.working_hours == {"tue": [["08:00", "16:00"]]}
    assert issued.api_key.name == "new name" and issued.api_key.scopes == ["chat", "jobs"]
    assert issued.api_key.secret_hash and ApiKey.objects.filter(tenant=tenant).count() == 1
    assert not any("sgt_" in str(m) for m in resp.context["messages"])  # no new key, nothing to show
