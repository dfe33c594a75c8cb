"""Small helpers every API view uses."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)


def get_owned_or_404(queryset: type[M] | QuerySet[M], tenant, **lookup) -> M:
    """Fetch one tenant-owned row or raise 404 — the same answer whether the row does
    not exist or belongs to another tenant, so ids leak nothing."""
    qs = queryset.objects.all() if isinstance(queryset, type) else queryset
    try:
        return qs.get(tenant=tenant, **lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    except Exception as exc:  # malformed UUIDs raise ValidationError on some backends
        from django.core.exceptions import ValidationError

        if isinstance(exc, ValidationError):
            raise Http404 from None
        raise
