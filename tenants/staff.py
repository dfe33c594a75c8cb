"""Who a back-office user works for: the tenants they may see and the one chosen now.

Platform superusers see every tenant and may choose any (or none: the whole platform).
Everyone else sees the tenants they are a member of; the current tenant is kept in the
session and falls back to their first membership. Every back-office page scopes its
rows with :func:`current_tenant`.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from tenants.models import Membership, Tenant

SESSION_KEY = "siganteng_current_tenant"


def tenants_for(user) -> QuerySet[Tenant]:
    """The tenants ``user`` may work on."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def role_for(user, tenant: Tenant | None) -> str | None:
    """``owner`` or ``agent`` for a member; ``owner`` for a superuser; else None."""
    if tenant is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Membership.OWNER
    return Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()


def current_tenant(request: HttpRequest, *, user=None) -> Tenant | None:
    """The tenant the user chose in this session, or their first one.

    None for a superuser who chose no tenant (they act on the whole platform) and for a
    user with no membership at all. ``user`` defaults to ``request.user`` (the API passes
    the session's Django user: DRF replaces ``request.user`` with its principal).
    """
    user = user or request.user
    allowed = tenants_for(user)
    chosen = request.session.get(SESSION_KEY)
    if chosen:
        tenant = allowed.filter(pk=chosen).first()
        if tenant is not None:
            return tenant
        request.session.pop(SESSION_KEY, None)
    if user.is_authenticated and user.is_superuser:
        return None
    return allowed.order_by("pk").first()


def choose_tenant(request: HttpRequest, tenant_id: str | None, *, user=None) -> Tenant | None:
    """Make ``tenant_id`` the session's tenant; ``None`` or "" clears the choice.

    A tenant the user may not see answers 404, like an unknown one. ``user`` as in
    :func:`current_tenant`.
    """
    if not tenant_id:
        request.session.pop(SESSION_KEY, None)
        return None
    tenant = tenants_for(user or request.user).filter(pk=tenant_id).first()
    if tenant is None:
        raise Http404
    request.session[SESSION_KEY] = tenant.pk
    return tenant
