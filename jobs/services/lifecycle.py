"""A job's life after submission, shared by the internal runner and external workers:
claim, progress, heartbeat, succeed, fail, cancel, retry and release. Each is one
:func:`~jobs.services.state.transition` (see there for why that is safe to race)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet

from jobs.handlers.base import JobCanceled
from jobs.models import Job, JobEvent, JobStatus, Runner
from jobs.services.fairness import jobs_wake_waiting, running, tenant_limit
from jobs.services.state import enqueue_run, now, transition
from jobs.services.webhooks import job_finished
from siganteng.errors import Conflict
from tenants.models import Tenant

STATUS = JobEvent.Kind.STATUS


def _runner_id() -> str:
    return f"cluster:{socket.gethostname()}:{os.getpid()}"


def claim_first(
    candidates: QuerySet[Job], *, worker_id: str, lease_seconds: int, message: str, named: bool = False
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
    ``test_claim_plan`` says why.

    ``named``: the candidates are one job named by its key (the internal runner's
    wake-up). Its row lock is waited for, not skipped: on PostgreSQL an update that found
    the row changed and matched nothing (a second waker's) still holds the row's lock until
    its transaction ends, and skipping it then would lose the job's only wake-up."""
    at = now()
    qs = candidates.select_related("model", "tenant").order_by("created_at", "pk")
    skip_locked = connection.features.has_select_for_update_skip_locked
    worker_id = worker_id[:200]
    with transaction.atomic(savepoint=False):  # nested in job_claim's: no savepoint of its own
        if skip_locked:
            qs = qs.select_for_update(skip_locked=not named, of=("self",))
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
    as many jobs as it may: the job then waits with no wake-up, and
    :func:`~jobs.services.fairness.jobs_wake_waiting` wakes it when one of those ends)."""
    with transaction.atomic():
        # The tenant's row lock makes "count its running jobs, then claim" one step per
        # tenant, so concurrent claims never pass its limit. FOR NO KEY UPDATE: new jobs
        # of the tenant can still be inserted meanwhile.
        tenant = Tenant.objects.select_for_update(no_key=True, of=("self",)).filter(jobs__pk=job_id).first()
        if tenant is None:
            return None
        if running(tenant.pk).count() >= tenant_limit(tenant):
            Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=None)
            return None
        return claim_first(
            # By primary key alone: whether it is claimable is checked on the row read.
            Job.objects.filter(pk=job_id, model__runner=Runner.INTERNAL),
            worker_id=worker_id or _runner_id(),
            lease_seconds=lease_seconds or settings.JOBS_LEASE_SECONDS,
            message="Attempt {attempt} started.",
            named=True,
        )


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
    if job.model.runner == Runner.INTERNAL:
        jobs_wake_waiting(tenant_id=job.tenant_id)  # a canceled job frees its place
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


# --- handing work back (a stopping cluster, siganteng.shutdown) -----------------------------


def job_release(*, job_id, token: str) -> bool:
    """The holder gives a running job back unfinished: RUNNING → QUEUED at once, the
    attempt not counted, and a wake-up for any cluster. False if ``token`` no longer
    holds it. Whatever the old runner still reports afterwards is refused by the token."""
    with transaction.atomic():
        changes = {
            "status": JobStatus.QUEUED,
            "attempts": F("attempts") - 1,
            "lease_token": "",
            "lease_expires_at": None,
            "worker_id": "",
            "available_at": None,
            "enqueued_at": now(),
        }
        event = {
            "kind": STATUS,
            "status": JobStatus.QUEUED,
            "message": "Handed back unfinished by a stopping cluster; queued again.",
            "data": {"reason": "released"},
        }
        if not transition(job_id, where=_held(token), changes=changes, event=event):
            return False
        enqueue_run(job_id)
    return True


def job_wake(*, job_id) -> None:
    """Send the job's wake-up again: a stopping cluster hands back the wake-ups it had
    fetched but will not run. Where it lands, a job no longer QUEUED makes it a no-op."""
    enqueue_run(job_id)
