"""What django-q2 runs for jobs. Tasks take ids and call services."""

from __future__ import annotations

from jobs import services
from siganteng import metrics, shutdown

SCHEDULES = [("jobs.reconcile", "jobs.tasks.reconcile_jobs", 1)]


def run_job(job_id: str) -> str | None:
    """Wake-up for one internal job; a duplicate or stale wake-up is a no-op. One taken
    after the cluster was told to stop goes back to the broker unstarted."""
    if shutdown.stopping():
        services.job_wake(job_id=job_id)
        return None
    status = services.job_run(job_id=job_id)
    metrics.job_run(status=status)
    return status


def reconcile_jobs() -> dict[str, int]:
    """Every minute (and every RECONCILE_INTERVAL seconds from the dedicated dispatcher):
    take back expired leases, wake lost jobs, send due webhook retries."""
    counts = services.jobs_reconcile()
    metrics.reconciled(reconciler="jobs", counts=counts)
    return counts


def deliver_webhook(delivery_id: str) -> str:
    return services.webhook_deliver(delivery_id=delivery_id)
