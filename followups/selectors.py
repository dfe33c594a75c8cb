"""Reads of follow-ups, always scoped to one tenant."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from followups.models import FollowUp
from tenants.models import Tenant


def followups_list(
    *,
    tenant: Tenant,
    status: list[str] | None = None,
    due_after: dt.datetime | None = None,
    due_before: dt.datetime | None = None,
    conversation_id=None,
) -> QuerySet[FollowUp]:
    qs = FollowUp.objects.filter(tenant=tenant)
    if status:
        qs = qs.filter(status__in=status)
    if due_after is not None:
        qs = qs.filter(due_at__gte=due_after)
    if due_before is not None:
        qs = qs.filter(due_at__lt=due_before)
    if conversation_id is not None:
        qs = qs.filter(conversation_id=conversation_id)
    return qs


def followups_pending(*, tenant: Tenant) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(tenant=tenant, status__in=FollowUp.PENDING)
