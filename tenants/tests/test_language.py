"""The back-office in Bahasa Indonesia or English: the browser's language by default, a
stored preference over it; locale and timezone as choices; Tenants first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenants.models import StaffProfile

pytestmark = pytest.mark.django_db


def test_it_speaks_the_browsers_language_until_the_user_chooses(client, owner):
    client.force_login(owner)
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="id-ID,id;q=0.9,en;q=0.5").content.decode()
    assert "Percakapan" in page and "Kunci API" in page and "Keluar" in page  # ours and Django's
    assert "Acme" in page and "Pemilik" in page  # the current tenant and the role, on every page
    english = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Conversations" in english and "Percakapan" not in english
    client.post(reverse("backoffice-set-language"), {"language": "en", "next": "/admin/"})
    assert StaffProfile.objects.get(user=owner).language == "en"
    client.cookies.pop("django_language", None)  # the stored choice wins without the cookie
    page = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Conversations" in page and "Percakapan" not in page
    r = client.post(reverse("backoffice-set-language"), {"language": "klingon"}, follow=True)
    assert StaffProfile.objects.get(user=owner).language == "en" and "Unknown language" in r.content.decode()


def test_it_offers_locale_and_timezone_as_choices(client, owner, tenant):
    client.force_login(owner)
    page = client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk])).content.decode()
    assert '<select name="locale"' in page and '<select name="timezone"' in page
    assert '<option value="Asia/Makassar"' in page and '<option value="id"' in page
    # Limits are the platform's: an owner sees them, without a field to change them.
    assert 'name="rate_limit_per_minute"' not in page


def test_it_lists_tenants_first(client, owner):
    client.force_login(owner)
    apps = [app["app_label"] for app in client.get(reverse("admin:index")).context["app_list"]]
    assert apps[0] == "tenants" and len(apps) > 1
