"""No tenant starves another on the internal runner.

Each tenant runs at most its limit of internal jobs at once (``Tenant.max_concurrent_jobs``,
else ``JOBS_TENANT_CONCURRENCY``), so the other workers stay free for everyone else. The
limit is kept twice:

- **wake-ups**: a tenant has at most its limit of jobs *in flight* (running, or QUEUED with
  a wake-up in the broker). A job past that waits with no wake-up (``enqueued_at`` empty),
  so a tenant that submits ten thousand jobs puts only its limit of wake-ups in the
  broker, and another tenant's wake-up is not queued behind the rest;
- **claims**: the claim counts the tenant's running jobs under its row lock
  (:func:`jobs.services.lifecycle.job_claim`), so concurrent runners never pass the limit;
  a job it turns away loses its wake-up and waits like the others.

:func:`jobs_wake_waiting` wakes a tenant's oldest waiting jobs as room frees: when one of
its jobs ends, and from the reconciler.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from jobs.models import Job, JobStatus, Runner
from jobs.services.state import claimable, enqueue_run, now
from tenants.models import Tenant


def tenant_limit(tenant: Tenant) -> int:
    """How many internal jobs the tenant may run at once."""
    return tenant.max_concurrent_jobs or settings.JOBS_TENANT_CONCURRENCY


def _live(at: dt.datetime) -> Q:
    """Running under a live lease: a dead runner's job stops counting when its lease runs
    out, before the reconciler takes it back."""
    return Q(status=JobStatus.RUNNING, lease_expires_at__gt=at)


def running(tenant_id) -> QuerySet[Job]:
    """The tenant's internal jobs running under a live lease."""
    return Job.objects.filter(_live(now()), tenant_id=tenant_id, model__runner=Runner.INTERNAL)


def in_flight(tenant_id, *, at: dt.datetime | None = None) -> int:
    """The tenant's internal jobs running or with a wake-up in the broker."""
    return Job.objects.filter(
        _live(at or now()) | Q(status=JobStatus.QUEUED, enqueued_at__isnull=False),
        tenant_id=tenant_id,
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
        model__runner=Runner.INTERNAL,
    ).count()


def wake_budget(tenant: Tenant, *, at: dt.datetime | None = None) -> int:
    """How many more of the tenant's internal jobs may get a wake-up now."""
    return max(0, tenant_limit(tenant) - in_flight(tenant.pk, at=at))


def jobs_wake_waiting(*, tenant_id, at: dt.datetime | None = None) -> int:
    """Wake the tenant's oldest waiting internal jobs (claimable, no wake-up in flight), as
    many as its limit leaves room for. Returns how many were woken. Two wakers racing may
    wake one job too many: the claim still holds the limit."""
    at = at or now()
    waiting = Job.objects.filter(
        claimable(at), tenant_id=tenant_id, model__runner=Runner.INTERNAL, enqueued_at__isnull=True
    ).order_by("created_at", "pk")
    if not waiting.exists():
        return 0
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    budget = wake_budget(tenant, at=at) if tenant else 0
    if not budget:
        return 0
    with transaction.atomic():
        woken = [
            pk
            for pk in waiting.values_list("pk", flat=True)[:budget]
            if Job.objects.filter(pk=pk, status=JobStatus.QUEUED, enqueued_at__isnull=True).update(enqueued_at=at)
        ]
        enqueue_run(*woken)
    return len(woken)
