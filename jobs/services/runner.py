"""The internal runner: one django-q2 task per job claims it, runs its kind's handler in
this process and records the outcome."""

from __future__ import annotations

import logging

from django.utils.functional import SimpleLazyObject

from jobs.handlers import get_handler
from jobs.handlers.base import JobCanceled, JobContext, JobError
from jobs.models import Artifact, JobStatus
from jobs.services.files import artifact_store
from jobs.services.lifecycle import job_claim, job_fail, job_progress, job_succeed
from siganteng.ai.base import ProviderError
from siganteng.http import OutboundError

logger = logging.getLogger(__name__)


def job_run(*, job_id) -> str | None:
    """Claim the job, run its handler, record the outcome. Returns the final status (or
    QUEUED when a transient failure will be tried again), None for a no-op wake-up."""
    claimed = job_claim(job_id=job_id)
    if claimed is None:
        return None
    job, token = claimed

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
        result = get_handler(job.model.kind)(ctx)
    except JobCanceled:
        return JobStatus.CANCELED
    except (JobError, ProviderError, OutboundError) as exc:
        prefix = "Provider error: " if isinstance(exc, ProviderError) else ""
        return job_fail(job_id=job.pk, token=token, error=f"{prefix}{exc}", permanent=exc.permanent)
    except Exception as exc:  # a bug in a handler: record it readably, do not loop on it
        logger.exception("Handler for job %s crashed", job.pk)
        return job_fail(
            job_id=job.pk, token=token, error=f"Internal error: {type(exc).__name__}: {exc}", permanent=True
        )
    if job_succeed(job_id=job.pk, token=token, result=result):
        return JobStatus.SUCCEEDED
    return None
