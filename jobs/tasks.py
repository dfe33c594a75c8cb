"""What django-q2 runs for jobs. Tasks take ids and call services."""

from __future__ import annotations

from jobs import services

SCHEDULES = [("jobs.reconcile", "jobs.tasks.reconcile_jobs", 1)]


def run_job(job_id: str) -> str | None:
    """Wake-up for one internal job; a duplicate or stale wake-up is a no-op."""
    return services.job_run(job_id=job_id)


def reconcile_jobs() -> dict[str, int]:
    """Every minute: take back expired leases, wake lost jobs, send due webhook retries."""
    return services.jobs_reconcile()


def deliver_webhook(delivery_id: str) -> str:
    return services.webhook_deliver(delivery_id=delivery_id)
