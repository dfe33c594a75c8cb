"""The runner's statements find the job by its primary key whatever the planner's
statistics say. With an index on status available and no statistics yet (a new table, or
a burst of submissions since the last ANALYZE), a claim that chose that index would walk
every QUEUED job, turning a burst of n jobs into n² row visits. These plans are of the
ORM's own statements: the claim reads the job by primary key alone and checks its status
on the row it read, and its update is conditional on columns no index leads with."""

from __future__ import annotations

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job, JobStatus, Runner

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]


@pytest.fixture
def burst(tenant, catalog):
    """200 QUEUED jobs the planner has no statistics for."""
    jobs = services.job_submit_batch(tenant=tenant, items=[{"model": "echo", "prompt": "x"}] * 100)
    jobs += services.job_submit_batch(tenant=tenant, items=[{"model": "echo", "prompt": "y"}] * 100)
    return [job for job, _ in jobs]


def _by_primary_key(plan: str) -> bool:
    return "jobs_job_pkey" in plan and "status_lease" not in plan


def test_it_claims_an_internal_job_through_its_primary_key(burst):
    """The claim's row lookup (``claim_first`` for one job id)."""
    qs = (
        Job.objects.filter(pk=burst[0].pk, model__runner=Runner.INTERNAL)
        .select_related("model", "tenant")
        .order_by("created_at", "pk")
    )
    plan = qs.explain()
    assert _by_primary_key(plan), plan


def test_it_updates_the_claimed_job_through_its_primary_key(burst):
    """The claim's conditional update: the same WHERE as this query."""
    job = burst[0]
    plan = Job.objects.filter(pk=job.pk, attempts=job.attempts, updated_at=job.updated_at).explain()
    assert _by_primary_key(plan), plan


def test_a_condition_on_status_would_walk_the_queued_jobs(burst):
    """Why the claim leaves status out of its statements: with no statistics, PostgreSQL
    may serve ``status = 'QUEUED'`` from the status index and filter every QUEUED job for
    the one id. (Should this start to fail, the planner no longer does so, and the claim
    may name the status again.)"""
    plan = Job.objects.filter(pk=burst[0].pk, status=JobStatus.QUEUED).explain()
    assert not _by_primary_key(plan), plan
