"""One place where the back-office is scoped to the current tenant and the staff's role.

Every app's admin derives from :class:`TenantScopedAdmin` (and its inlines from
:class:`TenantScopedInline`); platform-wide objects (the model catalog) derive from
:class:`PlatformAdmin`. Tenant staff carry no Django model permissions at all: what they
may do is decided here from their role in the current tenant (:mod:`tenants.staff`), so
the permission tables cannot drift from the roles. Platform superusers keep Django's
behaviour and see every tenant, or only the one they chose in the switcher.

For tenant staff every page works on the current tenant's rows only: changelist,
change/delete/history views, search, date hierarchy, actions and autocomplete all read
:meth:`TenantScopedAdmin.get_queryset`; foreign-key and many-to-many choices offer only
the tenant's objects; related-object filters list only values present in the tenant's
rows; the tenant filter itself is dropped (there is one). Every add, change and delete
is written to the tenant's audit log with the fields it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter, RelatedOnlyFieldListFilter
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from tenants import audit, staff
from tenants.models import Membership, Tenant

OWNER = Membership.OWNER
AGENT = Membership.AGENT
ALL_ROLES = (OWNER, AGENT)

_CACHE_ATTR = "_siganteng_backoffice"


def backoffice(request: HttpRequest) -> tuple[Tenant | None, str | None]:
    """``(current tenant, role)`` for this request, computed once per request."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is None:
        tenant = staff.current_tenant(request)
        cached = (tenant, staff.role_for(request.user, tenant))
        setattr(request, _CACHE_ATTR, cached)
    return cached


def forget(request: HttpRequest) -> None:
    """Drop the per-request cache after the current tenant changed."""
    if hasattr(request, _CACHE_ATTR):
        delattr(request, _CACHE_ATTR)


def is_platform(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def tenant_of(model: type[models.Model], tenant_field: str) -> str:
    """The ORM path from ``model`` to its tenant's primary key."""
    return "pk" if tenant_field == "pk" else f"{tenant_field}__pk"


def scope_queryset(qs: models.QuerySet, tenant: Tenant | None) -> models.QuerySet:
    """Rows of ``qs`` that belong to ``tenant`` (related models are found by their own
    ``tenant`` field); a queryset of a model not owned by a tenant is returned as is."""
    model = qs.model
    if tenant is None:
        return qs
    if model is Tenant:
        return qs.filter(pk=tenant.pk)
    try:
        model._meta.get_field("tenant")
    except FieldDoesNotExist:
        return qs
    return qs.filter(tenant=tenant)


class _RoleChecks:
    """Permission checks shared by model admins and inlines.

    ``view_roles`` may open the pages; ``edit_roles`` may add, change and delete. A
    subclass that forbids an operation outright (``has_add_permission`` returning False)
    keeps forbidding it for everybody.
    """

    view_roles: ClassVar[tuple[str, ...]] = (OWNER,)
    edit_roles: ClassVar[tuple[str, ...]] = (OWNER,)

    def _role(self, request: HttpRequest) -> str | None:
        tenant, role = backoffice(request)
        return role if tenant is not None else None

    def _may(self, request: HttpRequest, roles: tuple[str, ...]) -> bool:
        return self._role(request) in roles

    def _allowed(self, request: HttpRequest, access: str, django_says: Callable[[], bool]) -> bool:
        """Platform superusers: Django's own answer (``django_says``); tenant staff: whether
        their role is among ``view_roles`` (or ``edit_roles``, which may view too) or
        ``edit_roles``."""
        if is_platform(request):
            return django_says()
        if access == "view":
            return self._may(request, self.view_roles) or self._may(request, self.edit_roles)
        return self._may(request, self.edit_roles)


class TenantScopedAdmin(_RoleChecks, admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a tenant, reached through ``tenant_field``.

    ``tenant_field`` is the ORM path to the tenant (``"tenant"``, ``"job__tenant"``, or
    ``"pk"`` for the Tenant model itself).
    """

    tenant_field: ClassVar[str] = "tenant"

    # --- rows -----------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        qs = super().get_queryset(request)
        tenant, _role = backoffice(request)
        if tenant is None:
            return qs if is_platform(request) else qs.none()
        return qs.filter(**{tenant_of(self.model, self.tenant_field): tenant.pk})

    # --- permissions ------------------------------------------------------------
    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, "view", lambda: super(_RoleChecks, self).has_module_permission(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "view", lambda: super(_RoleChecks, self).has_view_permission(request, obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_add_permission(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_change_permission(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_delete_permission(request, obj))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not (is_platform(request) or self.has_change_permission(request)):
            # Read-only staff get no actions but the ones Django already filtered by permission.
            actions = {name: spec for name, spec in actions.items() if getattr(spec[0], "allowed_permissions", None)}
        return {name: (self._audited(name, func), name, text) for name, (func, name, text) in actions.items()}

    def _audited(self, name: str, func):
        """``func`` recording ``<model>.<action>`` for each selected row it ran on. Deletes
        are recorded by :meth:`delete_queryset`, and actions marked ``audited`` (they call
        a service that records its own entry) are left as they are."""
        if name == "delete_selected" or getattr(func, "audited", False):
            return func

        def action(modeladmin, request, queryset):
            rows = list(queryset)
            response = func(modeladmin, request, queryset)
            for obj in rows:
                self._audit(request, obj, name, {})
            return response

        action.__name__ = name
        action.short_description = getattr(func, "short_description", name)
        return action

    # --- choices ---------------------------------------------------------------
    def _scope_choices(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        tenant, _role = backoffice(request)
        if tenant is None:
            return queryset if is_platform(request) else queryset.none()
        return scope_queryset(queryset, tenant)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scope_choices(request, field.queryset)
            tenant, _role = backoffice(request)
            if db_field.related_model is Tenant and tenant is not None:
                field.initial = tenant.pk
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scope_choices(request, field.queryset)
        return field

    def get_list_filter(self, request: HttpRequest):
        filters = list(super().get_list_filter(request))
        tenant, _role = backoffice(request)
        if tenant is None:
            return filters
        scoped = []
        for spec in filters:
            name, filter_class = spec if isinstance(spec, tuple) else (spec, None)
            if not isinstance(name, str):
                scoped.append(spec)  # a SimpleListFilter class: it reads the scoped queryset
                continue
            if name == "tenant":
                continue  # one tenant: nothing to choose
            field = _field_at(self.model, name)
            if field is not None and field.is_relation and filter_class in (None, RelatedFieldListFilter):
                # Django's related filter lists every row of the related table; this one
                # lists only those the tenant's rows point at.
                scoped.append((name, RelatedOnlyFieldListFilter))
            else:
                scoped.append(spec)
        return scoped

    # --- audit -----------------------------------------------------------------
    def _audit(self, request: HttpRequest, obj: models.Model, action: str, changes: dict) -> None:
        tenant = _owning_tenant(obj, self.tenant_field)
        if tenant is not None:
            audit.record(
                tenant=tenant,
                actor=request.user,
                action=f"{obj._meta.model_name}.{action}",
                obj=obj,
                changes=_jsonable(changes),
            )

    def save_model(self, request, obj, form, change):
        before = _snapshot(form) if change else {}
        super().save_model(request, obj, form, change)
        changes = {name: [before.get(name), _jsonable(form.cleaned_data.get(name))] for name in form.changed_data}
        self._audit(request, obj, "update" if change else "create", changes)

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", {})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "delete", {})
        super().delete_queryset(request, queryset)


class TenantScopedInline(_RoleChecks):
    """Mix into an inline (before TabularInline/StackedInline): its rows are the parent's,
    already scoped; permissions follow the roles, and foreign-key choices the tenant."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "view", lambda: super(_RoleChecks, self).has_view_permission(request, obj))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_add_permission(request, obj))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_change_permission(request, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, "edit", lambda: super(_RoleChecks, self).has_delete_permission(request, obj))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        tenant, _role = backoffice(request)
        if field is not None and hasattr(field, "queryset") and tenant is not None:
            field.queryset = scope_queryset(field.queryset, tenant)
        return field


class PlatformAdmin(admin.ModelAdmin):
    """Platform-wide objects (the model catalog): superusers only, whatever the roles."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request) and super().has_delete_permission(request, obj)


def _field_at(model: type[models.Model], path: str) -> models.Field | None:
    """The field at the end of ``path`` (``"job__model"``), or None."""
    field = None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return field


def _owning_tenant(obj: models.Model, tenant_field: str) -> Tenant | None:
    if tenant_field == "pk":
        return obj if isinstance(obj, Tenant) else None
    target: Any = obj
    for part in tenant_field.split("__"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target if isinstance(target, Tenant) else None


def _jsonable(value: Any) -> Any:
    """``value`` as something the audit log's JSON column can hold."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, models.QuerySet):
        return [str(pk) for pk in value.values_list("pk", flat=True)]
    return str(value)


def _snapshot(form) -> dict[str, Any]:
    """The form's initial values of the fields it changed (what they were before the save)."""
    return {name: _jsonable(form.initial.get(name)) for name in form.changed_data}
