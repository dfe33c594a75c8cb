"""The runner's statements find the job by primary key whatever the planner's statistics
say: with an index on status available and no statistics (a new table, or a burst of
submissions since the last ANALYZE), PostgreSQL picked that index for the claim, and each
claim walked every QUEUED job (4.7 million row visits for a 3,000-job burst)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from jobs import services
from jobs.models import Job

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner"),
]


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def burst(tenant, catalog):
    """200 QUEUED jobs the planner has no statistics for."""
    jobs = services.job_submit_batch(tenant=tenant, items=[{"model": "echo", "prompt": "x"}] * 100)
    jobs += services.job_submit_batch(tenant=tenant, items=[{"model": "echo", "prompt": "y"}] * 100)
    return [job for job, _ in jobs]


def test_the_claim_reaches_the_job_by_primary_key(burst):
    now = timezone.now()
    params = ["tok", now + dt.timedelta(seconds=60), now, now, "w", burst[0].pk, now, "w", now]
    plan = _plan(services._CLAIM_SQL, params)
    assert "jobs_job_pkey" in plan, plan
    assert "status" not in plan.split("Index Cond")[-1].split("\n")[0], plan


def test_the_other_transitions_reach_the_job_by_primary_key(burst):
    where = services._matches("status")
    sql = f'UPDATE "{Job._meta.db_table}" SET "progress_percent" = 1 WHERE "id" = %s AND {where}'
    plan = _plan(sql, [burst[0].pk, "QUEUED"])
    assert "jobs_job_pkey" in plan, plan
