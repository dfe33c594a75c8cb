"""``manage.py seed`` is idempotent and prints the demo key only when it creates it."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_q.models import Schedule

from tenants.auth import authenticate_key
from tenants.models import ApiKey, Tenant


def _seed() -> str:
    out = io.StringIO()
    call_command("seed", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_seeds_once_and_changes_nothing_the_second_time(settings):
    settings.FIRST_SUPERUSER_USERNAME = "boss"
    settings.FIRST_SUPERUSER_PASSWORD = "a-long-password-123"
    first = _seed()
    demo = Tenant.objects.get(pk="demo")
    assert demo.timezone == "Asia/Jakarta" and demo.locale == "id"
    assert demo.working_hours["sat"] == [["09:00", "17:00"]] and "sun" not in demo.working_hours
    assert demo.persona and demo.sop
    key = next(w for w in first.split() if w.startswith("sgt_"))
    assert authenticate_key(key).tenant == demo
    assert get_user_model().objects.get(username="boss").is_superuser
    assert Schedule.objects.filter(name="cluster-heartbeat").exists()
    counts = (
        Tenant.objects.count(),
        ApiKey.objects.count(),
        get_user_model().objects.count(),
        Schedule.objects.count(),
    )

    second = _seed()
    assert "sgt_" not in second
    assert (
        Tenant.objects.count(),
        ApiKey.objects.count(),
        get_user_model().objects.count(),
        Schedule.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_it_skips_the_superuser_without_a_password(settings):
    settings.FIRST_SUPERUSER_PASSWORD = ""
    out = _seed()
    assert "FIRST_SUPERUSER_PASSWORD" in out
    assert not get_user_model().objects.exists()
    assert Tenant.objects.filter(pk="demo").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["setting", "option"])
def test_the_demo_tenant_and_its_printed_key_are_opt_out(settings, how):
    settings.FIRST_SUPERUSER_USERNAME = "boss"
    settings.FIRST_SUPERUSER_PASSWORD = "a-long-password-123"
    out = io.StringIO()
    if how == "setting":
        settings.SEED_DEMO = False
        call_command("seed", stdout=out)
    else:
        call_command("seed", "--no-demo", stdout=out)
    assert "sgt_" not in out.getvalue() and "Demo data skipped" in out.getvalue()
    assert not Tenant.objects.exists() and not ApiKey.objects.exists()
    # What a deployment needs still happens.
    assert get_user_model().objects.get(username="boss").is_superuser
    assert Schedule.objects.filter(name="cluster-heartbeat").exists()
