"""The internal runner: one django-q2 task per job claims it, runs its kind's handler in
this process and records the outcome."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.functional import SimpleLazyObject

from jobs.handlers import get_handler
from jobs.handlers.base import JobCanceled, JobContext, JobError
from jobs.models import Artifact, JobStatus
from jobs.services.fairness import jobs_wake_waiting
from jobs.services.files import artifact_store
from jobs.services.lifecycle import job_claim, job_fail, job_heartbeat, job_progress, job_release, job_succeed
from siganteng.ai.base import ProviderError
from siganteng.http import OutboundError
from siganteng.leases import kept_alive

logger = logging.getLogger(__name__)


def job_run(*, job_id) -> str | None:
    """Claim the job, run its handler, record the outcome. Returns the final status (or
    QUEUED when a transient failure will be tried again), None for a no-op wake-up.

    While the handler runs, a heartbeat renews the job's lease (``JOBS_LEASE_SECONDS``),
    so a short lease never takes a slow job from a live runner. When the run ends, the
    tenant's waiting jobs are woken as far as its limit of concurrent jobs allows."""
    claimed = job_claim(job_id=job_id)
    if claimed is None:
        return None
    job, token = claimed
    try:
        return _run_claimed(job, token)
    finally:
        try:
            jobs_wake_waiting(tenant_id=job.tenant_id)
        except DatabaseError:
            pass  # the reconciler wakes waiting jobs too


def _renew(job_id, token: str) -> bool:
    try:
        job_heartbeat(job_id=job_id, token=token, lease_seconds=settings.JOBS_LEASE_SECONDS)
    except JobCanceled:
        return False  # canceled, or taken back: the handler notices at its next report
    return True


def _run_claimed(job, token: str) -> str | None:
    def report(percent: int, message: str = "") -> None:
        job_progress(job_id=job.pk, token=token, percent=percent, message=message)

    def store(data: bytes, *, filename: str, content_type: str, kind: str = "output") -> Artifact:
        return artifact_store(job=job, data=data, filename=filename, content_type=content_type, kind=kind)

    ctx = JobContext(
        job_id=str(job.pk),
        tenant=job.tenant,
        model=job.model,
        prompt=job.prompt,
        params=job.input_params,
        inputs=SimpleLazyObject(lambda: list(job.artifacts.filter(kind=Artifact.Kind.INPUT))),  # read when used
        report=report,
        store=store,
    )
    try:
        with kept_alive(
            lambda: _renew(job.pk, token),
            every=settings.JOBS_LEASE_SECONDS / 3,
            # A stopping cluster hands the job back once its grace is over (siganteng.shutdown).
            release=functools.partial(job_release, job_id=job.pk, token=token),
        ):
            result = get_handler(job.model.kind)(ctx)
    except JobCanceled:
        return JobStatus.CANCELED
    except (JobError, ProviderError, OutboundError) as exc:
        prefix = "Provider error: " if isinstance(exc, ProviderError) else ""
        return job_fail(job_id=job.pk, token=token, error=f"{prefix}{exc}", permanent=exc.permanent)
    except DatabaseError as exc:
        # A dropped connection or a failover mid-job (a progress report, an artifact row):
        # transient, so the job is tried again within its attempts, on a new connection.
        logger.warning("Job %s lost its database connection: %s", job.pk, exc)
        connection.close()
        try:
            return job_fail(job_id=job.pk, token=token, error=f"Database error: {exc}", permanent=False)
        except DatabaseError:
            return None  # still unreachable: the reconciler takes the job back when its lease ends
    except Exception as exc:  # a bug in a handler: record it readably, do not loop on it
        logger.exception("Handler for job %s crashed", job.pk)
        return job_fail(
            job_id=job.pk, token=token, error=f"Internal error: {type(exc).__name__}: {exc}", permanent=True
        )
    if job_succeed(job_id=job.pk, token=token, result=result):
        return JobStatus.SUCCEEDED
    return None
