"""Every registered admin page, walked as an owner and as an agent of tenant A against
tenant B's rows: nothing of B is visible, editable or leaked in any HTML.

The admins are discovered from the admin site's registry, not listed here: an admin
added later is walked too, and the first test fails until its rows are in the world
fixture (tests/conftest.py) or it is platform-only.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, reverse

from tenants.admin_scoping import PlatformAdmin, TenantScopedAdmin
from tenants.models import Membership
from tests.conftest import MARK_B

pytestmark = pytest.mark.django_db

# Third-party pages (accounts, django-q2's task pages) rely on Django's model
# permissions, which tenant staff never hold: they stay superuser-only.
THIRD_PARTY_APPS = {"auth", "django_q"}


def _registry() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _url(model: type[models.Model], view: str, *args) -> str | None:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    except NoReverseMatch:
        return None


def _markers(world) -> list[str]:
    found = [MARK_B.lower(), world.bravo.pk]
    for objs in world.rows["bravo"].values():
        found += [str(obj.pk) for obj in objs if isinstance(obj.pk, uuid.UUID)]
    return found


def _assert_clean(response, markers: list[str], where: str) -> None:
    assert response.status_code != 500, where
    body = response.content.decode(errors="replace").lower()
    leaked = [m for m in markers if m.lower() in body]
    assert not leaked, f"{where} leaks {leaked}"


def _snapshot(world) -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model._base_manager.filter(pk__in=[o.pk for o in objs]).order_by("pk").values())
        for model, objs in world.rows["bravo"].items()
    }


def test_it_covers_every_registered_admin(world):
    for model, model_admin in _registry():
        if model._meta.app_label in THIRD_PARTY_APPS or isinstance(model_admin, PlatformAdmin):
            continue
        assert isinstance(model_admin, TenantScopedAdmin), f"{model._meta.label} is not tenant-scoped"
        assert model in world.rows["bravo"], f"the walk has no {model._meta.label} rows: add them to tests/conftest.py"


@pytest.mark.parametrize("role", [Membership.OWNER, Membership.AGENT])
def test_it_shows_and_accepts_nothing_of_another_tenant(client, world, role):
    client.force_login(world.users[role])
    markers = _markers(world)
    before = _snapshot(world)
    walked = 0
    for url in (reverse("admin:index"), reverse("admin:password_change")):
        _assert_clean(client.get(url), markers, url)
    for model, model_admin in _registry():
        label = model._meta.label
        changelist = _url(model, "changelist")
        response = client.get(changelist)
        _assert_clean(response, markers, f"{label} changelist")
        if response.status_code == 200:
            walked += 1
            cl = response.context["cl"]
            b_pks = [o.pk for o in world.rows["bravo"].get(model, [])]
            assert not cl.queryset.filter(pk__in=b_pks).exists(), f"{label}: B rows visible"
            # Search, filters and the date drill-down read the same scoped rows (the terms are
            # inner parts of B's marks: the page echoes the term, never the whole mark).
            for query in (f"?q={MARK_B[1:-1]}", f"?q={world.bravo.pk[1:-1]}", "?o=1", "?all="):
                _assert_clean(client.get(changelist + query), markers, f"{label} changelist{query}")
            # A filter naming the other tenant finds nothing (or is refused); the page echoes
            # the filter's value in its forms, so the rows are checked instead of the HTML.
            response = client.get(changelist, {"tenant__id__exact": world.bravo.pk})
            assert response.status_code in (200, 302, 400), label
            if response.status_code == 200 and "cl" in response.context:
                assert not response.context["cl"].result_count, f"{label}: filter by B finds rows"
            # Every action, applied to B's rows, touches nothing (rows compared at the end).
            for name in model_admin.get_actions(response.wsgi_request):
                data = {"action": name, "_selected_action": [str(pk) for pk in b_pks], "index": 0, "post": "yes"}
                _assert_clean(client.post(changelist, data), markers, f"{label} action {name}")
        else:
            assert response.status_code == 403, f"{label} changelist: {response.status_code}"
        add = _url(model, "add")
        if add:
            _assert_clean(client.get(add), markers, f"{label} add")
        for obj in world.rows["bravo"].get(model, []):
            for view in ("change", "history", "delete"):
                url = _url(model, view, obj.pk)
                response = client.get(url)
                assert response.status_code in (302, 403, 404), f"{label} {view} of B: {response.status_code}"
                _assert_clean(response, markers, f"{label} {view}")
            # Writes aimed at B's rows: an edit and a confirmed delete.
            _assert_clean(client.post(_url(model, "change", obj.pk), {"name": "moved"}), markers, f"{label} post")
            _assert_clean(client.post(_url(model, "delete", obj.pk), {"post": "yes"}), markers, f"{label} delete")
            # The admin answers an unknown id with a message repeating the id asked for: an
            # echo of the request, not a leak; dropped so it does not show on the next page.
            client.cookies.pop("messages", None)
        # Autocomplete of every foreign key, whichever admin the related model has.
        for field in model._meta.get_fields():
            if not (field.many_to_one or field.many_to_many) or not field.concrete:
                continue
            if field.related_model not in admin.site._registry:
                continue
            params = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
            response = client.get(reverse("admin:autocomplete"), {**params, "field_name": field.name, "term": ""})
            _assert_clean(response, markers, f"{label}.{field.name} autocomplete")
            if response.status_code == 200:
                ids = {r["id"] for r in json.loads(response.content)["results"]}
                b_ids = {str(o.pk) for o in world.rows["bravo"].get(field.related_model, [])}
                assert not ids & b_ids, f"{label}.{field.name} autocomplete offers B"
    assert _snapshot(world) == before, "a write reached tenant B"
    assert walked >= (10 if role == Membership.OWNER else 5)


@pytest.mark.parametrize("role", [Membership.OWNER, Membership.AGENT])
def test_it_shows_the_own_tenants_rows_by_role(client, world, role):
    """The other side of the walk: A's staff do see A's rows where their role allows."""
    client.force_login(world.users[role])
    seen = set()
    for model, objs in world.rows["alpha"].items():
        response = client.get(_url(model, "changelist"))
        if response.status_code == 200 and response.context["cl"].queryset.filter(pk__in=[o.pk for o in objs]):
            seen.add(model._meta.label)
    agent_sees = {"chat.Conversation", "chat.Message", "followups.FollowUp", "knowledge.Document", "knowledge.Source"}
    if role == Membership.AGENT:
        assert seen == agent_sees
    else:
        assert seen == {m._meta.label for m in world.rows["alpha"]}


def test_it_keeps_platform_pages_for_superusers(client, world, django_user_model):
    client.force_login(world.users[Membership.OWNER])
    for name in ("admin:jobs_aimodel_changelist", "admin:auth_user_changelist", "admin:django_q_schedule_changelist"):
        assert client.get(reverse(name)).status_code == 403
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(root)
    for name in ("admin:jobs_aimodel_changelist", "admin:auth_user_changelist", "admin:django_q_schedule_changelist"):
        assert client.get(reverse(name)).status_code == 200
    # The platform sees every tenant until it picks one in the switcher.
    response = client.get(reverse("admin:chat_conversation_changelist"))
    assert response.context["cl"].result_count == 2
    client.post(reverse("backoffice-switch-tenant"), {"tenant": world.alpha.pk})
    response = client.get(reverse("admin:chat_conversation_changelist"))
    assert response.context["cl"].result_count == 1
    assert "Alpha Shop" in response.content.decode()
