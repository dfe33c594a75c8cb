"""No tenant starves another: a tenant runs at most its limit of internal jobs at once and
has at most that many wake-ups in the broker, what it has waiting is woken as its jobs
end (or by the reconciler), and a database error mid-job is transient."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

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
    second.refresh_from_db()
    assert second.status == JobStatus.QUEUED and second.enqueued_at is None  # waits with no wake-up
    assert services.job_claim(job_id=late.pk) is not None  # the other tenant is not held up
    # The tenant's own setting wins over the platform default.
    flood.max_concurrent_jobs = 2
    flood.save()
    assert services.job_claim(job_id=second.pk) is not None


@pytest.mark.django_db
def test_a_tenant_alone_is_held_to_its_limit_so_a_newcomer_finds_a_free_worker(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 1
    busy = make_tenant("busy")
    first, second = _submit(busy, "a"), _submit(busy, "b")
    assert services.job_claim(job_id=first.pk) is not None
    assert services.job_claim(job_id=second.pk) is None  # nobody else waits, and still no second worker
    newcomer = _submit(make_tenant("newcomer"), "c")
    assert services.job_claim(job_id=newcomer.pk) is not None


@pytest.mark.django_db(transaction=True)
def test_a_flood_puts_only_the_tenants_limit_of_wake_ups_in_the_broker(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 2
    flood, other = make_tenant("flood"), make_tenant("other")
    items = [{"model": "echo", "prompt": f"p{i}"} for i in range(50)]
    jobs = [job for job, _ in services.job_submit_batch(tenant=flood, items=items)]
    stored = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert stored.filter(enqueued_at__isnull=False).count() == 2
    woken = set(stored.filter(enqueued_at__isnull=False).values_list("pk", flat=True))
    assert woken == {jobs[0].pk, jobs[1].pk}  # the oldest
    more = _submit(flood, "one more")
    assert Job.objects.get(pk=more.pk).enqueued_at is None  # still two in flight
    late = _submit(other, "late")
    assert Job.objects.get(pk=late.pk).enqueued_at is not None  # another tenant's has its own room


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_wakes_the_tenants_oldest_waiting(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 1
    flood = make_tenant("flood")
    first, second, third = _submit(flood, "a"), _submit(flood, "b"), _submit(flood, "c")
    assert Job.objects.get(pk=second.pk).enqueued_at is None
    assert services.job_run(job_id=first.pk) == JobStatus.SUCCEEDED
    second.refresh_from_db()  # the run's end woke one: the tenant's room is one job
    third.refresh_from_db()
    assert second.enqueued_at is not None and third.enqueued_at is None
    assert services.job_run(job_id=second.pk) == JobStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_canceled_queued_job_frees_its_place(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 1
    flood = make_tenant("flood")
    first, second = _submit(flood, "a"), _submit(flood, "b")
    services.job_cancel(job=first)
    assert Job.objects.get(pk=second.pk).enqueued_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_reconciler_wakes_waiting_jobs_within_each_tenants_limit(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 2
    a, b = make_tenant("a"), make_tenant("b")
    a_jobs = [_submit(a, f"a{i}") for i in range(5)]
    b_jobs = [_submit(b, f"b{i}") for i in range(3)]
    # Every wake-up was lost with the broker, and nothing marks them sent.
    Job.objects.update(enqueued_at=None)
    counts = services.jobs_reconcile()
    assert counts["woken"] == 4  # two of each tenant, the oldest
    woken = set(Job.objects.filter(enqueued_at__isnull=False).values_list("pk", flat=True))
    assert woken == {a_jobs[0].pk, a_jobs[1].pk, b_jobs[0].pk, b_jobs[1].pk}
    assert services.jobs_reconcile()["woken"] == 0  # in flight already: nothing more


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_pass_the_tenants_limit(catalog, make_tenant, settings):
    settings.JOBS_TENANT_CONCURRENCY = 2
    flood = make_tenant("flood")
    jobs = [_submit(flood, f"p{i}") for i in range(6)]
    claimed = run_concurrently(lambda i: services.job_claim(job_id=jobs[i].pk) is not None, 6)
    assert claimed.count(True) == 2, claimed
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_wake_up_waits_for_a_moments_row_lock_instead_of_being_lost(catalog, tenant):
    """On PostgreSQL a second waker's update that matched nothing still locks the job's row
    until its transaction ends; a claim that skipped the locked row lost the job's only
    wake-up, and the job sat QUEUED until the reconciler found it."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite serialises writers instead")
    job = _submit(tenant, "locked a moment")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Job.objects.select_for_update().filter(pk=job.pk).first()
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    threading.Timer(0.5, release.set).start()
    claimed = services.job_claim(job_id=job.pk)
    holder.join(10)
    assert claimed is not None and claimed[0].pk == job.pk
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING


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
