"""The job queue's state for ``/metrics``, read from the database at scrape time.

The rows are the truth (a counter kept by the processes would drift whenever a worker
dies mid-job), so the scrape counts them: jobs queued or running now by model, and the
age of the oldest job that is waiting to run (queued, not held back by a retry backoff).
One grouped query answers both, an index range read on ``status``: finished jobs are
never scanned.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobs.models import Job, JobStatus


class JobQueueCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        ready = Q(status=JobStatus.QUEUED) & (Q(available_at__isnull=True) | Q(available_at__lte=now))
        rows = (
            Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING))
            .values_list("model__slug", "status")
            .annotate(n=Count("pk"), oldest_ready=Min("created_at", filter=ready))
            .order_by()
        )
        active = GaugeMetricFamily(
            "siganteng_jobs", "Jobs queued or running now, by model and status.", labels=["model", "status"]
        )
        oldest = None
        for model, status, n, oldest_ready in rows:
            active.add_metric([model, status], n)
            if oldest_ready is not None and (oldest is None or oldest_ready < oldest):
                oldest = oldest_ready
        yield active
        yield GaugeMetricFamily(
            "siganteng_jobs_oldest_queued_age_seconds",
            "Seconds the oldest job ready to run has been waiting (0 when none waits).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
