"""Scope checks: a view names the scope it needs in ``required_scope``."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from tenants.auth import Principal


class HasScope(BasePermission):
    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal):
            return False
        scope = getattr(view, "required_scope", None)
        if scope is None:
            return True
        self.message = f"This API key lacks the '{scope}' scope."
        return principal.has_scope(scope)


class IsPlatform(BasePermission):
    """The platform key or a staff session only."""

    message = "Only the platform key or staff may do this."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Principal) and request.user.is_platform
