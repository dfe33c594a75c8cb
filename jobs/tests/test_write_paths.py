"""The runner's and the submission's hand-written statements write exactly what the ORM
would: a submission's rows and events whichever path inserts them, and transitions that
relax their commit only where losing them is repaired."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from jobs import services
from jobs.models import Job, JobEvent, JobStatus
from siganteng import db

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL statement")

# Everything a new job holds except its id and the times it was planned at.
_TIMES = ("created_at", "updated_at", "enqueued_at")
_COMPARED = [f.attname for f in Job._meta.concrete_fields if f.name not in ("id", *_TIMES)]


def _row(job_id) -> dict:
    return Job.objects.filter(pk=job_id).values(*_COMPARED).get()


def test_a_submission_writes_what_bulk_create_writes(tenant, catalog):
    """The PostgreSQL single statement (elsewhere, bulk_create itself) against the ORM's
    bulk_create of the same planned job, column by column, with the QUEUED event."""
    job, created = services.job_submit(tenant=tenant, model_slug="echo", prompt="same")
    assert created
    planned = services._plan(tenant=tenant, items=[{"model": "echo", "prompt": "same"}], batch=False)[0].job
    Job.objects.bulk_create([planned])
    assert _row(job.pk) == _row(planned.pk)
    stored = Job.objects.get(pk=job.pk)
    assert stored.created_at and stored.enqueued_at and planned.enqueued_at
    if connection.vendor == "postgresql":  # one time for the whole submission (the ORM stamps each field itself)
        assert stored.created_at == stored.updated_at == stored.enqueued_at == job.created_at
    assert job._state.adding is False and job._state.db == connection.alias
    events = list(JobEvent.objects.filter(job=job).values("kind", "status", "message", "data", "created_at"))
    assert [{k: v for k, v in e.items() if k != "created_at"} for e in events] == [
        {"kind": "status", "status": JobStatus.QUEUED, "message": "Job submitted.", "data": {}}
    ]
    if connection.vendor == "postgresql":
        assert events[0]["created_at"] == job.created_at


def test_a_batch_whose_items_differ_beyond_the_per_item_columns_still_goes_in_whole(tenant, catalog, settings):
    """A column the single statement takes once (here max_attempts, changed between
    planning two halves) sends the submission down the ORM path instead: same rows."""
    first = services._plan(tenant=tenant, items=[{"model": "echo", "prompt": "a"}], batch=True)
    settings.JOBS_MAX_ATTEMPTS = 7
    second = services._plan(tenant=tenant, items=[{"model": "echo", "prompt": "b"}], batch=True)
    with transaction.atomic():
        assert services._insert_jobs_with_events([first[0].job, second[0].job]) is False
    assert not Job.objects.exists()  # nothing written on the way out
    submitted = services._insert(tenant=tenant, planned=[*first, *second])
    assert [Job.objects.get(pk=job.pk).max_attempts for job, _ in submitted] == [3, 7]
    assert JobEvent.objects.filter(status=JobStatus.QUEUED).count() == 2


def test_each_item_keeps_its_own_values(tenant, catalog):
    items = [
        {"model": "echo", "prompt": "one", "idempotency_key": "k1"},
        {"model": "text-gen-default", "prompt": "two", "input_params": {"temperature": 0.2}},
        {"model": "dreamfusion-sd", "prompt": "three", "webhook_url": "https://example.com/hook"},
    ]
    jobs = [job for job, _ in services.job_submit_batch(tenant=tenant, items=items)]
    stored = {j.pk: j for j in Job.objects.filter(pk__in=[j.pk for j in jobs]).select_related("model")}
    assert [stored[j.pk].prompt for j in jobs] == ["one", "two", "three"]
    assert [stored[j.pk].model.slug for j in jobs] == ["echo", "text-gen-default", "dreamfusion-sd"]
    assert stored[jobs[0].pk].idempotency_key == "k1" and stored[jobs[1].pk].idempotency_key == ""
    assert stored[jobs[1].pk].input_params == {"temperature": 0.2, "max_tokens": 512}
    assert stored[jobs[2].pk].webhook_url == "https://example.com/hook"
    # internal jobs record their wake-up; the external one waits for a worker's claim
    assert stored[jobs[0].pk].enqueued_at is not None and stored[jobs[2].pk].enqueued_at is None
    assert [stored[j.pk].request_hash for j in jobs] == [j.request_hash for j in jobs]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_relaxed_statement_commits_and_leaves_the_session_as_it_was(tenant):
    import psycopg

    table = tenant._meta.db_table

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    before = synchronous_commit()
    sql = f'UPDATE "{table}" SET "name" = %s WHERE "id" = %s AND {db.RELAXED_COMMIT}'
    assert db.execute(sql, ["Relaxed", tenant.pk]) == 1
    assert synchronous_commit() == before
    conf = connection.settings_dict
    with psycopg.connect(
        host=conf["HOST"], port=conf["PORT"] or 5432, dbname=conf["NAME"], user=conf["USER"], autocommit=True
    ) as other:  # committed: another connection sees it
        assert other.execute(f'SELECT "name" FROM "{table}" WHERE "id" = %s', [tenant.pk]).fetchone() == ("Relaxed",)


@pytest.mark.django_db(transaction=True)
def test_the_runner_outside_a_transaction_claims_reports_and_completes(tenant, catalog):
    """As in a cluster worker: no transaction open, so the claim and the progress reports
    take their relaxed statements; the job still ends SUCCEEDED with every event."""
    job, _ = services.job_submit(
        tenant=tenant, model_slug="echo", prompt="steps", input_params={"delay_seconds": 0.01, "steps": 2}
    )
    assert connection.get_autocommit()
    assert services.job_run(job_id=str(job.pk)) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_percent, job.result) == ("SUCCEEDED", 1, 100, {"text": "steps"})
    events = list(JobEvent.objects.filter(job=job).values_list("kind", "status", "progress_percent"))
    assert events == [
        ("status", "QUEUED", None),
        ("status", "RUNNING", None),
        ("progress", "", 50),
        ("progress", "", 99),
        ("status", "SUCCEEDED", None),
    ]
    assert services.job_run(job_id=str(job.pk)) is None  # a duplicate wake-up changes nothing


def test_only_transitions_outside_a_transaction_relax_their_commit():
    """Inside an open transaction ``SET LOCAL`` would relax the whole transaction's commit,
    so the runner's relaxed statements are chosen only outside one."""
    sql = services._transition_sql(("progress_percent",), ("status",), "", "postgresql", True)[0]
    assert db.RELAXED_COMMIT in sql
    assert (
        db.RELAXED_COMMIT
        not in services._transition_sql(("progress_percent",), ("status",), "", "postgresql", False)[0]
    )
    assert db.RELAXED_COMMIT in services._CLAIM_SQL_RELAXED and db.RELAXED_COMMIT not in services._CLAIM_SQL


def test_a_batch_of_external_jobs_only_goes_in_with_no_wake_up_time(tenant, catalog):
    """Every job of the batch waits for a worker: the per-item wake-up times are all
    empty, which the single statement must still take as timestamps."""
    items = [{"model": "dreamfusion-sd", "prompt": "a chair"}, {"model": "dreamfusion-sd", "prompt": "a table"}]
    jobs = [job for job, _ in services.job_submit_batch(tenant=tenant, items=items)]
    stored = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert sorted(stored.values_list("prompt", flat=True)) == ["a chair", "a table"]
    assert list(stored.values_list("enqueued_at", flat=True)) == [None, None]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_claim_inside_a_transaction_leaves_its_commit_synchronous(tenant, catalog):
    """``SET LOCAL`` from a relaxed statement would last until the surrounding transaction
    ends; inside one, the claim takes its plain statement."""

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    first, _ = services.job_submit(tenant=tenant, model_slug="echo", prompt="one")
    second, _ = services.job_submit(tenant=tenant, model_slug="echo", prompt="two")
    transaction.set_autocommit(False)
    try:
        assert services.job_claim(job_id=str(first.pk)) is not None
        assert synchronous_commit() == "on"
        # what the relaxed statement would have done here
        params, _ = services._claim_params(job_id=second.pk, worker="w", lease_seconds=60)
        db.fetch_one(services._CLAIM_SQL_RELAXED, params)
        assert synchronous_commit() == "off"
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert synchronous_commit() == "on"
