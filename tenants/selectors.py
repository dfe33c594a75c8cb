"""Reads on tenants and keys, always scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from siganteng.api import get_owned_or_404
from siganteng.errors import NotFound
from tenants.auth import Principal
from tenants.models import ApiKey, Tenant


def tenant_for_principal(*, principal: Principal, tenant_id: str) -> Tenant:
    """The tenant named in the URL, if the caller may act on it.

    The platform (key or staff session) sees every tenant; a tenant key sees only its
    own. Another tenant's id and an unknown id both answer 404, so ids leak nothing.
    """
    if principal.is_platform:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            raise NotFound()
        return tenant
    if principal.tenant is None or principal.tenant.pk != tenant_id:
        raise NotFound()
    return principal.tenant


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant)


def api_key_get(*, tenant: Tenant, key_id: int) -> ApiKey:
    return get_owned_or_404(ApiKey.objects.select_related("tenant"), tenant, pk=key_id)


def tenant_has_keys(*, tenant: Tenant) -> bool:
    return ApiKey.objects.filter(tenant=tenant).exists()
