"""No tenant starves another: a tenant runs at most its limit of internal jobs at once,
what it has waiting is woken as its jobs end, and a database error mid-job is transient."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job, JobStatus
from siganteng.testing import run_concurrently, wait_until


def _submit(tenant, prompt="x", **params) -> Job:
    return services.job_submit(tenant=tenant, model_slug="echo", prompt=prompt, input_params=params)[0]


@pytest.mark.django_db
def test_a_tenant_at_its_limit_waits_while_another_tenant_runs(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 1
    flood, other = make_tenant("flood"), make_tenant("other")
    first, second = _submit(flood, "a"), _submit(flood, "b")
    late = _submit(other, "c")
    claimed = services.job_claim(job_id=first.pk)
    assert claimed is not None  # flood's first job runs
    assert services.job_claim(job_id=second.pk) is None  # flood is at its limit: passed over
    assert Job.objects.get(pk=second.pk).status == JobStatus.QUEUED
    assert services.job_claim(job_id=late.pk) is not None  # the other tenant is not held up
    # The tenant's own setting wins over the platform default.
    flood.max_concurrent_jobs = 2
    flood.save()
    assert services.job_claim(job_id=second.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_wakes_the_tenants_next(catalog, make_tenant, settings, django_capture_on_commit_callbacks):
    settings.JOBS_TENANT_CONCURRENCY = 1
    flood = make_tenant("flood")
    first, second = _submit(flood, "a"), _submit(flood, "b")
    job, token = services.job_claim(job_id=first.pk)
    waiting = _submit(make_tenant("other"), "c")
    assert services.job_claim(job_id=second.pk) is None  # another tenant waits
    services.job_claim(job_id=waiting.pk)
    services.job_succeed(job_id=job.pk, token=token, result={})
    services.jobs_wake_next(tenant_id=flood.pk)
    assert services.job_run(job_id=second.pk) == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_pass_the_tenants_limit(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 2
    flood, other = make_tenant("flood"), make_tenant("other")
    jobs = [_submit(flood, f"p{i}") for i in range(6)]
    _submit(other, "waiting")  # another tenant waits, so the limit applies
    claimed = run_concurrently(lambda i: services.job_claim(job_id=jobs[i].pk) is not None, 6)
    assert claimed.count(True) == 2, claimed
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 2


@pytest.mark.django_db
def test_a_tenant_alone_in_the_queue_may_use_every_worker(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 1
    busy = make_tenant("busy")
    first, second = _submit(busy, "a"), _submit(busy, "b")
    assert services.job_claim(job_id=first.pk) is not None
    assert services.job_claim(job_id=second.pk) is not None  # nobody else waits: no limit


@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_mid_job_is_retried_not_failed(catalog, tenant, settings):
    if connection.vendor != "postgresql":
        pytest.skip("terminating a connection from another session needs PostgreSQL")
    settings.JOBS_RETRY_BACKOFF_SECONDS = 0
    job = _submit(tenant, "slow", delay_seconds=3, steps=12)
    outcome: list = []
    runner = threading.Thread(target=lambda: (outcome.append(services.job_run(job_id=job.pk)), connection.close()))
    runner.start()
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING, timeout=20, message="running")
    with connection.cursor() as cursor:  # the runner's backend (and its heartbeat's) dies, as in a failover
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    runner.join(timeout=30)
    job.refresh_from_db()
    assert outcome == [JobStatus.QUEUED], (outcome, job.error)
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.error.startswith("Database error")
