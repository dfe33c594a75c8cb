"""Business operations on tenants and their keys.

Every write to a Tenant or an ApiKey goes through here; views and the admin only
validate input and call these functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from siganteng.errors import ApiError, Conflict
from tenants import audit, hours, keys
from tenants.models import DEFAULT_SCOPES, ApiKey, Tenant

# What a tenant's own ``admin`` key may change about itself. Everything else on the
# settings resource (limits, the active flag) is the platform's decision.
TENANT_EDITABLE_FIELDS = (
    "name",
    "persona",
    "sop",
    "locale",
    "timezone",
    "working_hours",
    "holidays",
    "after_hours_message",
    "llm_provider",
    "llm_model",
    "llm_temperature",
    "llm_fallback_provider",
    "llm_fallback_model",
    "max_bubbles",
)
PLATFORM_ONLY_FIELDS = ("rate_limit_per_minute", "monthly_token_budget", "is_active")
SETTINGS_FIELDS = TENANT_EDITABLE_FIELDS + PLATFORM_ONLY_FIELDS

# The first key of a tenant can manage the tenant (``admin`` implies every scope).
FIRST_KEY_SCOPES = [*DEFAULT_SCOPES, "admin"]


@dataclass
class IssuedKey:
    """A freshly created key: ``full_key`` is the only time the secret is visible."""

    api_key: ApiKey
    full_key: str


@dataclass
class TenantWrite:
    """Result of :func:`tenant_upsert`. ``issued`` is set when a first key was created."""

    tenant: Tenant
    created: bool
    issued: IssuedKey | None


def _full_clean(instance: Tenant | ApiKey) -> None:
    """Model validation as a field-named 400 (the model validators are the one source of
    truth for hours, holidays, timezone and scopes)."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise ApiError(
            "Invalid input: " + ", ".join(sorted(exc.message_dict)) + ".",
            code="validation_error",
            fields=exc.message_dict,
        ) from None


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: list[str] | None = None,
    expires_at: dt.datetime | None = None,
    actor=None,
) -> IssuedKey:
    """Create a key; the returned ``full_key`` is never stored (only its hash is).

    ``actor`` (the staff user, or None for the platform and API keys) is recorded in the
    tenant's audit log with the key's name and scopes, never its secret."""
    full_key, prefix, secret_hash = keys.generate()
    api_key = ApiKey(
        tenant=tenant,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=list(scopes) if scopes else list(DEFAULT_SCOPES),
        expires_at=expires_at,
    )
    _full_clean(api_key)
    api_key.save()
    audit.record(
        tenant=tenant,
        actor=actor,
        action="api_key.create",
        obj=api_key,
        changes={"name": api_key.name, "scopes": api_key.scopes, "expires_at": _iso(api_key.expires_at)},
    )
    return IssuedKey(api_key=api_key, full_key=full_key)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def api_key_import(*, tenant: Tenant, raw_key: str, name: str = "imported key") -> IssuedKey | None:
    """Make ``raw_key`` (a key an operator already gave its clients) a key of ``tenant``
    with every scope, stored hashed like the keys we issue.

    Importing the key the tenant already has changes nothing and returns ``None``, so a
    client that PUTs its settings back with its key stays idempotent. A key that is
    another tenant's, or one this tenant revoked, is refused (409 naming ``api_key``).
    """
    looked_up = keys.lookup(raw_key)
    if looked_up is None:  # the serializer checks this; the service does not trust it
        raise ApiError("Invalid input: api_key.", code="validation_error", fields={"api_key": ["Malformed key."]})
    prefix, secret = looked_up
    existing = ApiKey.objects.filter(prefix=prefix).first()
    if existing is not None:
        same = existing.tenant_id == tenant.pk and keys.secret_matches(secret, existing.secret_hash)
        if same and existing.is_usable():
            return None
        raise Conflict(
            "This key cannot be used: it is already in use.",
            code="key_in_use",
            fields={"api_key": ["Already in use; choose another key or send an empty one to get a new key."]},
        )
    api_key = ApiKey(
        tenant=tenant, name=name, prefix=prefix, secret_hash=keys.hash_secret(secret), scopes=list(FIRST_KEY_SCOPES)
    )
    _full_clean(api_key)
    api_key.save()
    return IssuedKey(api_key=api_key, full_key=raw_key)


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, grace_seconds: int | None = None, actor=None) -> IssuedKey:
    """Issue a replacement with the same name, scopes and expiry; the old key keeps
    working for ``API_KEY_ROTATION_GRACE_SECONDS`` (default 24 h) so deployed clients can
    switch, then expires. A revoked, expired or already rotated key cannot be rotated
    (409): rotating twice would leave two live successors."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise Conflict("This key is revoked; create a new one instead.", code="key_revoked")
    if api_key.rotated_to_id is not None:
        raise Conflict("This key was already rotated.", code="key_already_rotated")
    now = timezone.now()
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise Conflict("This key has expired; create a new one instead.", code="key_expired")
    grace = settings.API_KEY_ROTATION_GRACE_SECONDS if grace_seconds is None else grace_seconds
    issued = api_key_create(
        tenant=api_key.tenant, name=api_key.name, scopes=api_key.scopes, expires_at=api_key.expires_at, actor=actor
    )
    old_until = now + dt.timedelta(seconds=grace)
    if api_key.expires_at is None or api_key.expires_at > old_until:
        api_key.expires_at = old_until
    api_key.rotated_to = issued.api_key
    api_key.save(update_fields=["expires_at", "rotated_to"])
    audit.record(
        tenant=api_key.tenant,
        actor=actor,
        action="api_key.rotate",
        obj=api_key,
        changes={"rotated_to": issued.api_key.prefix, "expires_at": _iso(api_key.expires_at)},
    )
    return issued


def api_key_revoke(*, api_key: ApiKey, actor=None) -> ApiKey:
    """Revoke at once (idempotent: revoking twice keeps the first time, and logs once)."""
    revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit.record(tenant=api_key.tenant, actor=actor, action="api_key.revoke", obj=api_key)
    return api_key


@transaction.atomic
def tenant_upsert(
    *, tenant_id: str, data: dict[str, Any], by_platform: bool, api_key: str | None = None
) -> TenantWrite:
    """Create or update the tenant ``tenant_id`` with the settings in ``data``.

    Only the platform may create a tenant or change ``PLATFORM_ONLY_FIELDS``; a tenant's
    own admin key changing one of them gets 403 naming the field. Fields absent from
    ``data`` keep their value. When the tenant has no key at all yet (a new tenant, or
    one created in the admin without keys), a first key with every scope is issued and
    returned once.

    ``api_key`` (seed 001's settings field) asks for a key in the same transaction:
    ``""`` issues a new random key with every scope, returned once; a key of at least
    ``keys.IMPORTED_MIN_LENGTH`` characters is imported (:func:`api_key_import`).
    ``None`` asks for nothing.
    """
    unknown = sorted(set(data) - set(SETTINGS_FIELDS))
    if unknown:
        raise ApiError(
            f"Unknown settings: {', '.join(unknown)}.",
            code="validation_error",
            fields={name: ["Unknown field."] for name in unknown},
        )
    if not by_platform:
        forbidden = [name for name in PLATFORM_ONLY_FIELDS if name in data]
        if forbidden:
            raise ApiError(
                f"Only the platform may change {', '.join(forbidden)}.",
                code="permission_denied",
                status_code=403,
                fields={name: ["Only the platform may change this field."] for name in forbidden},
            )
    tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
    created = tenant is None
    if created:
        if not by_platform:
            raise ApiError("Only the platform may create tenants.", code="permission_denied", status_code=403)
        if not data.get("name"):
            raise ApiError("Invalid input: name.", code="validation_error", fields={"name": ["Required on create."]})
        tenant = Tenant(id=tenant_id)
    for name, value in data.items():
        setattr(tenant, name, value)
    _full_clean(tenant)
    # Store the normalised form (sorted ranges, sorted unique holidays).
    tenant.working_hours = hours.validate_working_hours(tenant.working_hours)
    tenant.holidays = hours.validate_holidays(tenant.holidays)
    tenant.save()
    issued = None
    if api_key is not None:
        if api_key:
            issued = api_key_import(tenant=tenant, raw_key=api_key)
        else:
            issued = api_key_create(tenant=tenant, name="settings key", scopes=FIRST_KEY_SCOPES)
    if issued is None and not tenant.api_keys.exists():
        issued = api_key_create(tenant=tenant, name="first key", scopes=FIRST_KEY_SCOPES)
    return TenantWrite(tenant=tenant, created=created, issued=issued)
