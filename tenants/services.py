"""Business operations on tenants and their keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants import keys
from tenants.models import DEFAULT_SCOPES, ApiKey, Tenant


@dataclass
class IssuedKey:
    """A freshly created key: ``full_key`` is the only time the secret is visible."""

    api_key: ApiKey
    full_key: str


def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str] | None = None, expires_at: dt.datetime | None = None
) -> IssuedKey:
    full_key, prefix, secret_hash = keys.generate()
    api_key = ApiKey(
        tenant=tenant,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=list(scopes) if scopes else list(DEFAULT_SCOPES),
        expires_at=expires_at,
    )
    api_key.full_clean()
    api_key.save()
    return IssuedKey(api_key=api_key, full_key=full_key)


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, grace_seconds: int | None = None) -> IssuedKey:
    """Issue a replacement with the same name and scopes; the old key keeps working for
    ``API_KEY_ROTATION_GRACE_SECONDS`` (default 24 h) so deployed clients can switch."""
    grace = settings.API_KEY_ROTATION_GRACE_SECONDS if grace_seconds is None else grace_seconds
    issued = api_key_create(
        tenant=api_key.tenant, name=api_key.name, scopes=api_key.scopes, expires_at=api_key.expires_at
    )
    old_until = timezone.now() + dt.timedelta(seconds=grace)
    if api_key.expires_at is None or api_key.expires_at > old_until:
        api_key.expires_at = old_until
    api_key.rotated_to = issued.api_key
    api_key.save(update_fields=["expires_at", "rotated_to"])
    return issued


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
