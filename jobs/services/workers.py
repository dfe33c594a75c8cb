"""The external-worker protocol: a worker (a GPU machine, say) claims a job of the kinds
it runs, keeps its lease with heartbeats or progress reports, uploads its outputs through
tickets, and completes or fails the job. Every step after the claim needs the current
lease token; a worker that lost it gets a 409 ``lease_lost`` and must stop."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from jobs.handlers.base import JobCanceled
from jobs.models import Artifact, Job, JobStatus, Runner
from jobs.services import files
from jobs.services.lifecycle import claim_first, job_fail, job_heartbeat, job_progress, job_succeed
from jobs.services.state import claimable, now
from siganteng import storage
from siganteng.errors import Conflict, field_error


def _lease_lost(job: Job) -> Conflict:
    job.refresh_from_db()
    return Conflict(
        "This worker no longer holds the job (lease expired, canceled or taken over).",
        code="lease_lost",
        fields={"lease_token": [f"Not the current lease; the job is {job.status}."]},
    )


def worker_claim(
    *, tenant, kinds: list[str], worker_id: str, lease_seconds: int | None, base_url: str | None
) -> dict[str, Any] | None:
    """Claim the oldest claimable external job of one of ``kinds`` (of ``tenant``, or of
    any tenant for the platform's key). Returns what the worker needs (the job, its inputs
    with presigned GET URLs, the lease), or None when there is nothing to do."""
    candidates = Job.objects.filter(claimable(now()), model__runner=Runner.EXTERNAL, model__kind__in=kinds)
    if tenant is not None:
        candidates = candidates.filter(tenant=tenant)
    claimed = claim_first(
        candidates,
        worker_id=worker_id,
        lease_seconds=lease_seconds or settings.JOBS_WORKER_LEASE_SECONDS,
        message="Attempt {attempt} claimed by worker {worker}.",
    )
    if claimed is None:
        return None
    job, token = claimed
    inputs = [
        {
            "key": a.key,
            "url": storage.download_url(a.key, base_url=base_url),
            "content_type": a.content_type,
            "size": a.size,
        }
        for a in job.artifacts.filter(kind=Artifact.Kind.INPUT)
    ]
    return {
        "job": {
            "id": job.pk,
            "tenant": job.tenant_id,
            "model": job.model.slug,
            "kind": job.model.kind,
            "prompt": job.prompt,
            "input_params": job.input_params,
            "attempt": job.attempts,
            "inputs": inputs,
        },
        "lease_token": token,
        "lease_expires_at": job.lease_expires_at,
    }


def worker_heartbeat(*, job: Job, token: str, lease_seconds: int | None) -> dict[str, Any]:
    """Renew the lease; 409 if the worker lost it."""
    try:
        until = job_heartbeat(
            job_id=job.pk, token=token, lease_seconds=lease_seconds or settings.JOBS_WORKER_LEASE_SECONDS
        )
    except JobCanceled:
        raise _lease_lost(job) from None
    return {"lease_expires_at": until, "status": JobStatus.RUNNING}


def worker_progress(*, job: Job, token: str, percent: int, message: str, lease_seconds: int | None) -> dict[str, Any]:
    """Record progress and renew the lease; 409 if the worker lost it."""
    try:
        job_progress(
            job_id=job.pk,
            token=token,
            percent=percent,
            message=message,
            lease_seconds=lease_seconds or settings.JOBS_WORKER_LEASE_SECONDS,
        )
    except JobCanceled:
        raise _lease_lost(job) from None
    job.refresh_from_db()
    return {"lease_expires_at": job.lease_expires_at, "status": job.status}


def worker_upload_ticket(
    *, job: Job, token: str, filename: str, content_type: str, size_bytes: int | None, base_url: str | None
) -> dict[str, Any]:
    """A presigned PUT under the job's output prefix, for the lease holder only."""
    if job.status != JobStatus.RUNNING or job.lease_token != token:
        raise _lease_lost(job)
    return files.upload_ticket_create(
        tenant=job.tenant,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        base_url=base_url,
        job=job,
    )


def worker_complete(*, job: Job, token: str, outputs: list[dict[str, Any]], result: dict | None) -> Job:
    """Record the outputs the worker uploaded under the job's prefix, then SUCCEED the
    job. A key outside the prefix or never uploaded is a 400 naming it; 409 if the worker
    lost the lease."""
    prefix = files.job_prefix(job)
    found = []
    for i, out in enumerate(outputs):
        key = out.get("key", "")
        if not key.startswith(prefix) or ".." in key:
            raise field_error(f"outputs[{i}].key", f"Must be a key under {prefix} from an upload ticket.")
        if not storage.exists(key):
            raise field_error(f"outputs[{i}].key", f"Nothing was uploaded at {key!r}.")
        found.append((out, key, storage.stat(key)))
    with transaction.atomic():  # the outputs are recorded only if the job succeeds with them
        if not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_token=token).exists():
            raise _lease_lost(job)
        for out, key, st in found:
            files.artifact_record(
                job=job,
                key=key,
                size=st.size,
                sha256=st.sha256,
                kind=out.get("kind") or Artifact.Kind.OUTPUT,
                content_type=out.get("content_type") or "",
            )
        if not job_succeed(job_id=job.pk, token=token, result=result):
            raise _lease_lost(job)
    job.refresh_from_db()
    return job


def worker_fail(*, job: Job, token: str, error: str, retryable: bool) -> Job:
    """Report a failure (``retryable`` ones go back to the queue while attempts remain);
    409 if the worker lost the lease."""
    if job_fail(job_id=job.pk, token=token, error=error, permanent=not retryable) is None:
        raise _lease_lost(job)
    job.refresh_from_db()
    return job
