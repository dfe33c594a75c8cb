"""Small helpers every API view uses."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from siganteng.errors import NotFound, field_error

M = TypeVar("M", bound=Model)


def get_or_404(queryset: QuerySet[M], **lookup) -> M:
    """``queryset.get(**lookup)``, with a missing row and a malformed id (a bad UUID
    raises ValueError or ValidationError depending on the backend) both raise
    :class:`~siganteng.errors.NotFound` (answered 404)."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound() from None


def get_owned_or_404(queryset: type[M] | QuerySet[M], tenant, **lookup) -> M:
    """Fetch one tenant-owned row or raise NotFound (404) — the same answer whether the row does
    not exist or belongs to another tenant, so ids leak nothing."""
    qs = queryset.objects.all() if isinstance(queryset, type) else queryset
    return get_or_404(qs, tenant=tenant, **lookup)


def parse_uuid(value: object) -> uuid.UUID | None:
    """``value`` as a UUID, or None when it is not one (ids from forms and button payloads)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 200  # the idempotency_key columns' max_length

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_KEY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters (longer is a 400 naming the header). A key "
    "the tenant already used answers the first result instead of creating another (jobs: the same key with "
    "another body is a 409).",
)


def idempotency_key(request: Request) -> str:
    """The request's ``Idempotency-Key`` header, stripped; ``""`` without one.

    One rule for every route: a key longer than ``IDEMPOTENCY_KEY_MAX_LENGTH`` is refused
    with a 400 naming the header, never cut short (two long keys sharing a prefix would
    otherwise be taken for the same request)."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise field_error(IDEMPOTENCY_KEY_HEADER, f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
    return key
