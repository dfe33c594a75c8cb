"""Small helpers every API view uses."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)


def get_or_404(queryset: QuerySet[M], **lookup) -> M:
    """``queryset.get(**lookup)``, with a missing row and a malformed id (a bad UUID
    raises ValueError or ValidationError depending on the backend) both answered 404."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404 from None


def get_owned_or_404(queryset: type[M] | QuerySet[M], tenant, **lookup) -> M:
    """Fetch one tenant-owned row or raise 404 — the same answer whether the row does
    not exist or belongs to another tenant, so ids leak nothing."""
    qs = queryset.objects.all() if isinstance(queryset, type) else queryset
    return get_or_404(qs, tenant=tenant, **lookup)


def parse_uuid(value: object) -> uuid.UUID | None:
    """``value`` as a UUID, or None when it is not one (ids from forms and button payloads)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
