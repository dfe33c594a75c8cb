"""What every back-office page shows in its header: the current tenant, the tenants the
user may switch to, their role and the languages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from tenants import staff
from tenants.admin_scoping import backoffice as current


def backoffice(request: HttpRequest) -> dict:
    if not request.path.startswith("/admin/"):
        return {}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    tenant, role = current(request)
    return {
        "backoffice_tenant": tenant,
        "backoffice_role": role,
        "backoffice_tenants": staff.tenants_for(user).only("id", "name"),
        "backoffice_languages": settings.LANGUAGES,
    }
