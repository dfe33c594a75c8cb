"""Reads for the jobs API."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.models import AIModel, Job, JobEvent


def enabled_models() -> QuerySet[AIModel]:
    return AIModel.objects.filter(enabled=True).order_by("slug")


def job_list(
    *, tenant, status: str | None = None, model: str | None = None, idempotency_key: str | None = None
) -> QuerySet[Job]:
    qs = Job.objects.filter(tenant=tenant).select_related("model")
    if status:
        qs = qs.filter(status=status)
    if model:
        qs = qs.filter(model__slug=model)
    if idempotency_key:
        qs = qs.filter(idempotency_key=idempotency_key)
    return qs


def job_events(*, job: Job) -> QuerySet[JobEvent]:
    return JobEvent.objects.filter(job=job)


def jobs_for_worker(*, tenant) -> QuerySet[Job]:
    """Jobs a worker key may act on: its tenant's, or every tenant's for the platform."""
    qs = Job.objects.select_related("model", "tenant")
    return qs if tenant is None else qs.filter(tenant=tenant)
