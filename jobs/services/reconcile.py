"""The reconciler: the queue only carries wake-ups, so work whose runner died or whose
wake-up was lost is recovered from the rows themselves, every minute."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from jobs.models import Job, JobEvent, JobStatus, Runner, WebhookDelivery
from jobs.services.fairness import jobs_wake_waiting
from jobs.services.state import WEBHOOK_TASK, claimable, enqueue_run, transition
from jobs.services.state import now as clock
from jobs.services.webhooks import job_finished
from siganteng.queue import enqueue


def jobs_reconcile(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Take back RUNNING jobs past their lease (→ QUEUED while attempts remain, else FAILED),
    wake QUEUED internal jobs whose wake-up was lost, wake waiting ones (a tenant's limit,
    a passed backoff) as far as each tenant's limit allows, and send
    due webhook retries. Safe to run anywhere, any number of times."""
    at = now or clock()
    counts = {"requeued": 0, "failed": 0, "woken": 0, "webhooks": 0}
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=at).select_related("model")
    for job in expired[:limit]:
        outcome = _take_back(job, at=at)
        if outcome:
            counts[outcome] += 1

    stale = at - dt.timedelta(seconds=settings.JOBS_QUEUED_STALE_SECONDS)
    internal = Job.objects.filter(claimable(at), model__runner=Runner.INTERNAL)
    lost = list(internal.filter(enqueued_at__lt=stale).values_list("pk", flat=True)[:limit])
    if lost:
        with transaction.atomic():
            # A duplicate wake-up is harmless (the claim checks the row), so every lost job
            # is woken; only those still QUEUED record it.
            counts["woken"] = Job.objects.filter(pk__in=lost, status=JobStatus.QUEUED).update(enqueued_at=at)
            enqueue_run(*lost)
    # Jobs waiting with no wake-up (their tenant was at its limit, or a retry's backoff has
    # passed): each tenant's oldest, as far as its limit allows.
    waiting = internal.filter(enqueued_at__isnull=True).order_by().values_list("tenant_id", flat=True).distinct()
    for tenant_id in list(waiting[:limit]):
        counts["woken"] += jobs_wake_waiting(tenant_id=tenant_id, at=at)

    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=at)
    for delivery_id in list(due.values_list("pk", flat=True)[:limit]):
        counts["webhooks"] += 1
        enqueue(WEBHOOK_TASK, str(delivery_id))
    return counts


def _take_back(job: Job, *, at: dt.datetime) -> str | None:
    """One expired lease: queue the job again, or fail it when its attempts are spent.
    Returns which (``requeued`` / ``failed``), or None if its runner moved it meanwhile."""
    internal = job.model.runner == Runner.INTERNAL
    held = {"status": JobStatus.RUNNING, "lease_token": job.lease_token}
    with transaction.atomic():
        if job.attempts < job.max_attempts:
            changes = {
                "status": JobStatus.QUEUED,
                "lease_token": "",
                "lease_expires_at": None,
                "worker_id": "",
                "available_at": None,
                "enqueued_at": at if internal else None,
            }
            event = {
                "kind": JobEvent.Kind.STATUS,
                "status": JobStatus.QUEUED,
                "message": f"Lease of attempt {job.attempts} expired; queued again.",
                "data": {"attempt": job.attempts, "reason": "lease_expired"},
            }
            if not transition(job.pk, where=held, changes=changes, event=event):
                return None
            if internal:
                enqueue_run(job.pk)
            return "requeued"
        error = f"The runner stopped responding (lease expired) on all {job.attempts} attempts."
        changes = {
            "status": JobStatus.FAILED,
            "error": error,
            "completed_at": at,
            "lease_token": "",
            "lease_expires_at": None,
        }
        event = {
            "kind": JobEvent.Kind.STATUS,
            "status": JobStatus.FAILED,
            "message": error,
            "data": {"reason": "lease_expired"},
        }
        if not transition(job.pk, where=held, changes=changes, event=event):
            return None
        job_finished(job_id=job.pk)
        return "failed"
