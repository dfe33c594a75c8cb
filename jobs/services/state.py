"""The one way a job changes state: a conditional ``update()`` checked by its row count,
and a JobEvent written in the same transaction.

The condition (``status``, ``lease_token``, ``attempts`` …) is what makes a transition
safe to race: whoever changes the row first wins, the loser's update matches nothing and
it writes no event. The lease token fences runners: only the holder of the current lease
can report progress or finish the job.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import Job, JobEvent, JobStatus
from siganteng.queue import enqueue_many

RUN_TASK = "jobs.tasks.run_job"
WEBHOOK_TASK = "jobs.tasks.deliver_webhook"


def now() -> dt.datetime:
    return timezone.now()


def claimable(at: dt.datetime) -> Q:
    """QUEUED and past any retry backoff."""
    return Q(status=JobStatus.QUEUED) & (Q(available_at__isnull=True) | Q(available_at__lte=at))


def event_create(
    *, job_id, kind: str, status: str = "", progress: int | None = None, message: str = "", data: dict | None = None
) -> JobEvent:
    """Append one event to the job's log."""
    return JobEvent.objects.create(
        job_id=job_id,
        kind=kind,
        status=status,
        progress_percent=progress,
        message=(message or "")[:2000],
        data=data or {},
    )


def transition(job_id, *, where: dict[str, Any], changes: dict[str, Any], event: dict[str, Any]) -> bool:
    """Apply ``changes`` to the job only while it still matches ``where`` (lookups, as for
    ``filter()``) and append ``event`` (``event_create``'s arguments) if it did, in one
    transaction. Returns whether the job matched."""
    # No savepoint of its own: an error here rolls back the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        changed = Job.objects.filter(pk=job_id, **where).update(**changes, updated_at=now())
        if changed != 1:
            return False
        event_create(job_id=job_id, **event)
    return True


def enqueue_run(*job_ids) -> None:
    """Wake a runner for each job once the current transaction commits."""
    # save=False: the Job row and its events are the record, so the cluster need not
    # store a Success row per run. Failures are kept.
    enqueue_many(RUN_TASK, [(str(job_id),) for job_id in job_ids], save=False)
