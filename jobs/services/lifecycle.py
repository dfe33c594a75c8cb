"""A job's life after submission, shared by the internal runner and external workers:
claim, progress, heartbeat, succeed, fail, cancel and retry. Each is one
:func:`~jobs.services.state.transition` (see there for why that is safe to race)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from jobs.handlers.base import JobCanceled
from jobs.models import Job, JobEvent, JobStatus, Runner
from jobs.services.state import claimable, enqueue_run, now, transition
from jobs.services.webhooks import job_finished
from siganteng.errors import Conflict
from tenants.models import Tenant

STATUS = JobEvent.Kind.STATUS


def _runner_id() -> str:
    return f"cluster:{socket.gethostname()}:{os.getpid()}"


def claim_first(
    candidates: QuerySet[Job], *, worker_id: str, lease_seconds: int, message: str
) -> tuple[Job, str] | None:
    """Claim the oldest claimable job among ``candidates``: QUEUED → RUNNING under a new
    lease token, one attempt more. Returns the job (with its model and tenant) and the
    token, or None when there is none to take. ``message`` is the RUNNING event's,
    formatted with ``attempt`` and ``worker``.

    The candidate row is read locked (``select_for_update(skip_locked=True)`` on
    PostgreSQL, so concurrent claimers take different jobs; SQLite's IMMEDIATE
    transactions serialise writers) and checked here; the update is conditional on the
    row being as it was read (its attempt count and last change), so a claimer that read
    it before another's claim matches nothing and tries the next candidate. The update
    names the job by primary key and those two columns, never by status:
    ``test_claim_plan`` says why."""
    at = now()
    qs = candidates.select_related("model", "tenant").order_by("created_at", "pk")
    skip_locked = connection.features.has_select_for_update_skip_locked
    worker_id = worker_id[:200]
    with transaction.atomic():
        if skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        for job in qs[: 1 if skip_locked else 20]:
            if job.status != JobStatus.QUEUED or (job.available_at is not None and job.available_at > at):
                continue
            token, attempt = uuid.uuid4().hex, job.attempts + 1
            changes = {
                "status": JobStatus.RUNNING,
                "attempts": attempt,
                "lease_token": token,
                "lease_expires_at": at + dt.timedelta(seconds=lease_seconds),
                "started_at": at,
                "worker_id": worker_id,
            }
            event = {
                "kind": STATUS,
                "status": JobStatus.RUNNING,
                "message": message.format(attempt=attempt, worker=worker_id),
                "data": {"attempt": attempt, "worker": worker_id},
            }
            as_read = {"attempts": job.attempts, "updated_at": job.updated_at}
            if transition(job.pk, where=as_read, changes=changes, event=event):
                for name, value in changes.items():
                    setattr(job, name, value)
                return job, token
    return None


def job_claim(*, job_id, worker_id: str = "", lease_seconds: int | None = None) -> tuple[Job, str] | None:
    """Claim one QUEUED internal job for this process; None if it is not claimable (a
    duplicate wake-up, canceled, waiting for its retry backoff, or its tenant already runs
    as many jobs as it may while another tenant's job waits: :func:`jobs_wake_next` wakes
    it when one of those ends).

    The limit is work-conserving: a tenant alone in the queue may use every worker (a
    batch of short jobs runs at full speed); as soon as another tenant's job waits, the
    tenant gets no new worker past its limit, so the waiting job takes the next free one."""
    tenant_id = Job.objects.filter(pk=job_id).values_list("tenant_id", flat=True).first()
    if tenant_id is None:
        return None
    with transaction.atomic():
        # The tenant's row lock makes "count the running jobs, then claim" one step for
        # this tenant, so concurrent claims never pass its limit.
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
        if tenant is None:
            return None
        if _running(tenant_id).count() >= _concurrency(tenant) and _others_waiting(tenant_id):
            # Passed over: no wake-up is in flight for it any more (jobs_wake_next sends one).
            Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=None)
            return None
        return claim_first(
            # By primary key alone: whether it is claimable is checked on the row read.
            Job.objects.filter(pk=job_id, model__runner=Runner.INTERNAL),
            worker_id=worker_id or _runner_id(),
            lease_seconds=lease_seconds or settings.JOBS_LEASE_SECONDS,
            message="Attempt {attempt} started.",
        )


def _concurrency(tenant: Tenant) -> int:
    return tenant.max_concurrent_jobs or settings.JOBS_TENANT_CONCURRENCY


def _running(tenant_id) -> QuerySet[Job]:
    """The tenant's internal jobs running under a live lease (a dead runner's job stops
    counting when its lease runs out, before the reconciler takes it back)."""
    return Job.objects.filter(
        tenant_id=tenant_id, status=JobStatus.RUNNING, model__runner=Runner.INTERNAL, lease_expires_at__gt=now()
    )


def _others_waiting(tenant_id) -> bool:
    """Whether another tenant has an internal job ready to run."""
    return Job.objects.filter(claimable(now()), model__runner=Runner.INTERNAL).exclude(tenant_id=tenant_id).exists()


def jobs_wake_next(*, tenant_id) -> None:
    """A job of the tenant ended: wake its oldest internal job that a claim passed over
    while the tenant was at its limit (one with no wake-up in flight). A duplicate
    wake-up is a no-op; the reconciler wakes any left behind."""
    waiting = (
        Job.objects.filter(
            claimable(now()), tenant_id=tenant_id, model__runner=Runner.INTERNAL, enqueued_at__isnull=True
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None and Job.objects.filter(pk=waiting, enqueued_at__isnull=True).update(enqueued_at=now()):
        enqueue_run(waiting)


def _held(token: str) -> dict:
    return {"status": JobStatus.RUNNING, "lease_token": token}


def job_progress(*, job_id, token: str, percent: int, message: str = "", lease_seconds: int | None = None) -> None:
    """Record progress and renew the lease; raises JobCanceled if the caller no longer
    holds the job (canceled, or its lease was taken back)."""
    percent = max(0, min(100, int(percent)))
    until = now() + dt.timedelta(seconds=lease_seconds or settings.JOBS_LEASE_SECONDS)
    if not transition(
        job_id,
        where=_held(token),
        changes={"progress_percent": percent, "lease_expires_at": until},
        event={"kind": JobEvent.Kind.PROGRESS, "progress": percent, "message": message},
    ):
        raise JobCanceled("The job is no longer held by this runner.")


def job_heartbeat(*, job_id, token: str, lease_seconds: int) -> dt.datetime:
    """Renew the lease (no event: a heartbeat changes nothing a reader of the log needs)."""
    until = now() + dt.timedelta(seconds=lease_seconds)
    if not Job.objects.filter(pk=job_id, **_held(token)).update(lease_expires_at=until, updated_at=now()):
        raise JobCanceled("The job is no longer held by this runner.")
    return until


def job_succeed(*, job_id, token: str, result: dict | None) -> bool:
    """RUNNING (held with ``token``) → SUCCEEDED, and its completion webhook queued.
    False if the token no longer holds it."""
    with transaction.atomic():
        changes = {
            "status": JobStatus.SUCCEEDED,
            "result": result or {},
            "progress_percent": 100,
            "error": "",
            "completed_at": now(),
            "lease_token": "",
            "lease_expires_at": None,
        }
        event = {"kind": STATUS, "status": JobStatus.SUCCEEDED, "message": "Job succeeded."}
        if not transition(job_id, where=_held(token), changes=changes, event=event):
            return False
        job_finished(job_id=job_id)
    return True


def job_fail(*, job_id, token: str, error: str, permanent: bool) -> str | None:
    """The holder reports a failure. A transient one goes back to QUEUED with backoff while
    attempts remain; otherwise the job FAILS. Returns the new status (None: not held)."""
    error = (error or "Unknown error.")[:4000]
    with transaction.atomic():
        job = Job.objects.filter(pk=job_id, **_held(token)).only("attempts", "max_attempts").first()
        if job is None:
            return None
        if not permanent and job.attempts < job.max_attempts:
            delay = settings.JOBS_RETRY_BACKOFF_SECONDS * (2 ** max(0, job.attempts - 1))
            changes = {
                "status": JobStatus.QUEUED,
                "error": error,
                "lease_token": "",
                "lease_expires_at": None,
                "available_at": now() + dt.timedelta(seconds=delay),
                "enqueued_at": None,  # the reconciler wakes it once the backoff has passed
            }
            event = {
                "kind": STATUS,
                "status": JobStatus.QUEUED,
                "message": f"Attempt {job.attempts} failed ({error}); retrying in {delay:g} s.",
                "data": {"attempt": job.attempts, "retry_in": delay},
            }
            return JobStatus.QUEUED if transition(job_id, where=_held(token), changes=changes, event=event) else None
        changes = {
            "status": JobStatus.FAILED,
            "error": error,
            "completed_at": now(),
            "lease_token": "",
            "lease_expires_at": None,
        }
        event = {
            "kind": STATUS,
            "status": JobStatus.FAILED,
            "message": error,
            "data": {"attempt": job.attempts, "permanent": permanent},
        }
        if not transition(job_id, where=_held(token), changes=changes, event=event):
            return None
        job_finished(job_id=job_id)
    return JobStatus.FAILED


def job_cancel(*, job: Job) -> Job:
    """QUEUED or RUNNING → CANCELED (409 otherwise). A running handler notices at its next
    progress step (its lease token no longer matches a RUNNING row) and stops without
    writing."""
    with transaction.atomic():
        changes = {
            "status": JobStatus.CANCELED,
            "cancel_requested": True,
            "completed_at": now(),
            "lease_token": "",
            "lease_expires_at": None,
        }
        event = {"kind": STATUS, "status": JobStatus.CANCELED, "message": "Canceled on request."}
        where = {"status__in": [JobStatus.QUEUED, JobStatus.RUNNING]}
        if not transition(job.pk, where=where, changes=changes, event=event):
            job.refresh_from_db()
            raise Conflict(
                f"A {job.status} job cannot be canceled.", code="invalid_state", fields={"status": [job.status]}
            )
        job_finished(job_id=job.pk)
    job.refresh_from_db()
    return job


def job_retry(*, job: Job) -> Job:
    """FAILED or CANCELED → QUEUED with a fresh attempt budget (409 otherwise)."""
    internal = job.model.runner == Runner.INTERNAL
    with transaction.atomic():
        changes = {
            "status": JobStatus.QUEUED,
            "attempts": 0,
            "error": "",
            "result": None,
            "progress_percent": 0,
            "cancel_requested": False,
            "started_at": None,
            "completed_at": None,
            "available_at": None,
            "enqueued_at": now() if internal else None,
            "lease_token": "",
            "lease_expires_at": None,
            "worker_id": "",
        }
        event = {"kind": STATUS, "status": JobStatus.QUEUED, "message": "Retried on request."}
        where = {"status__in": [JobStatus.FAILED, JobStatus.CANCELED]}
        if not transition(job.pk, where=where, changes=changes, event=event):
            job.refresh_from_db()
            raise Conflict(
                f"Only FAILED or CANCELED jobs can be retried; this one is {job.status}.",
                code="invalid_state",
                fields={"status": [job.status]},
            )
        if internal:
            enqueue_run(job.pk)
    job.refresh_from_db()
    return job
