"""The tenant audit log: one call records a staff action, never a secret's value."""

from __future__ import annotations

from typing import Any

from django.db import models

from tenants.models import AuditEntry, Tenant

# Field names whose values are never written to the log, only the fact that they changed.
SECRET_FIELDS = frozenset(
    {"secret", "secrets", "secret_hash", "webhook_secret", "signing_secret", "token", "password", "api_key"}
)
REDACTED = "(changed)"


def _redact(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (REDACTED if name in SECRET_FIELDS or "secret" in name or "token" in name else value)
        for name, value in changes.items()
    }


def record(
    *,
    tenant: Tenant,
    actor,
    action: str,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record that ``actor`` (a user, or None for the platform key) did ``action`` on ``obj``.

    ``changes`` maps field names to ``[old, new]`` (or any JSON value); values of secret
    fields are replaced by a marker before anything is written.
    """
    label = ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor.get_username()
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=actor if label else None,
        actor_label=label or "platform",
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=_redact(changes or {}),
    )
