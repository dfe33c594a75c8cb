"""Authentication: tenant API keys, the platform key, and staff sessions.

``request.user`` becomes a :class:`Principal`; ``request.auth`` the :class:`ApiKey`
(or ``None`` for the platform key and staff sessions).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from tenants import keys, staff
from tenants.models import SCOPES, ApiKey, Tenant

LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass
class Principal:
    """Who is calling: a tenant key, the platform key, or a staff user."""

    tenant: Tenant | None
    scopes: frozenset[str]
    api_key: ApiKey | None = None
    is_platform: bool = False
    username: str = ""
    extra: dict = field(default_factory=dict)
    session_user: Any = None  # the Django user of a staff session (the browsable API)

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> str:
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        return f"platform:{self.username or 'key'}"

    def has_scope(self, scope: str) -> bool:
        return self.is_platform or scope in self.scopes or "admin" in self.scopes

    def __str__(self) -> str:
        if self.api_key is not None:
            return f"key {self.api_key.prefix} of {self.tenant_id}"
        return f"platform ({self.username or 'key'})"

    @property
    def tenant_id(self) -> str | None:
        return self.tenant.pk if self.tenant is not None else None


def _raw_key(request: Request) -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate_key(raw: str, *, tenant_header: str | None = None) -> Principal:
    """Resolve a raw key to a principal or raise 401 (bad key) / 403 (tenant mismatch)."""
    if keys.platform_key_matches(raw, settings.ADMIN_API_KEY):
        return Principal(tenant=None, scopes=frozenset(SCOPES), is_platform=True, username="platform-key")
    parsed = keys.lookup(raw)
    if parsed is None:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    prefix, secret = parsed
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if api_key is None or not keys.secret_matches(secret, api_key.secret_hash):
        raise exceptions.AuthenticationFailed("Invalid API key.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("API key revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise exceptions.AuthenticationFailed("API key expired.")
    if not api_key.tenant.is_active:
        raise exceptions.AuthenticationFailed("Tenant is disabled.")
    if tenant_header and tenant_header != api_key.tenant_id:
        raise exceptions.PermissionDenied("X-Tenant-Id does not match the API key's tenant.")
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        # At most one write a minute per key: keeps authentication off the write path.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return Principal(tenant=api_key.tenant, scopes=frozenset(api_key.scopes), api_key=api_key)


class ApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key: sgt_…`` or ``Authorization: Bearer sgt_…``."""

    def authenticate(self, request: Request):
        raw = _raw_key(request)
        if raw is None:
            return None
        principal = authenticate_key(raw, tenant_header=request.headers.get("X-Tenant-Id"))
        return principal, principal.api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class StaffSessionAuthentication(SessionAuthentication):
    """Staff logged into the admin may use the browsable API as the platform."""

    def authenticate(self, request: Request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if not (user.is_active and user.is_staff):
            return None
        principal = Principal(
            tenant=None, scopes=frozenset(SCOPES), is_platform=True, username=user.get_username(), session_user=user
        )
        return principal, None


def request_tenant(request: Request, *, named: str | None = None) -> Tenant:
    """The tenant a request acts for: the key's tenant, or for the platform key and staff
    sessions the one named by ``X-Tenant-Id`` (404 if unknown). A staff session (the
    browsable API) may instead name it with ``?tenant=`` or rely on the session's choice.

    ``named`` is a tenant id the request body carries (seed 001's ``ChatRequest.tenant_id``):
    it must be the key's tenant (403 otherwise); for the platform key and staff sessions it
    names the tenant when no header does, and must agree with the header when one does.
    """
    principal: Principal = request.user
    if principal.tenant is not None:
        if named and named != principal.tenant.pk:
            raise exceptions.PermissionDenied("tenant_id does not match the API key's tenant.")
        return principal.tenant
    tenant_id = request.headers.get("X-Tenant-Id", "").strip()
    if named and tenant_id and named != tenant_id:
        raise exceptions.PermissionDenied("tenant_id does not match X-Tenant-Id.")
    tenant_id = tenant_id or (named or "")
    if not tenant_id and principal.session_user is not None:
        tenant = _session_tenant(request)
        if tenant is not None:
            return tenant
    if not tenant_id:
        if principal.session_user is not None:
            raise exceptions.ValidationError(
                {"tenant": [f"Choose a tenant: add ?{TENANT_QUERY_PARAM}=<tenant id> (remembered for this session)."]}
            )
        raise exceptions.ValidationError(
            {"X-Tenant-Id": ["This header is required with the platform key or a staff session."]}
        )
    return get_object_or_404(Tenant, pk=tenant_id)


# A browser cannot send X-Tenant-Id: staff in the browsable API name the tenant here.
TENANT_QUERY_PARAM = "tenant"


def _session_tenant(request: Request) -> Tenant | None:
    """For a staff session without X-Tenant-Id: ``?tenant=<id>`` (made the session's
    choice, as the back-office's tenant switcher does; 404 for a tenant the user may not
    see), else the tenant already chosen in the session (their first one for a member)."""
    user = request.user.session_user
    chosen = request.query_params.get(TENANT_QUERY_PARAM, "").strip()
    if chosen:
        return staff.choose_tenant(request._request, chosen, user=user)
    return staff.current_tenant(request._request, user=user)
