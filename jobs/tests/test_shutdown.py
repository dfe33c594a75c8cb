"""A stopping cluster (siganteng.shutdown) hands jobs back: a wake-up it takes after the
stop goes back to the broker unstarted, and a running job is released once the grace is
over, queued again at once without spending an attempt. The real cluster's stop is in
siganteng/tests/test_serve.py."""

from __future__ import annotations

import pytest

from jobs import services, tasks
from jobs.models import Job, JobEvent, JobStatus


@pytest.fixture
def queue():
    """The real broker, emptied before and after the test."""
    from siganteng.queue import broker

    b = broker()
    b.purge_queue()
    yield b
    b.purge_queue()


def _submit(tenant, **params) -> Job:
    return services.job_submit(tenant=tenant, model_slug="echo", prompt="slow", input_params=params)[0]


@pytest.mark.django_db
def test_it_sends_a_wake_up_taken_after_the_stop_back_unstarted(
    catalog, tenant, queue, stopping, django_capture_on_commit_callbacks
):
    job = _submit(tenant)  # its own wake-up never reaches the broker: the test's transaction never commits
    stopping()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_job(str(job.pk)) is None
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 0 and job.worker_id == ""
    assert queue.queue_size() == 1  # back in the broker for any cluster


@pytest.mark.django_db(transaction=True)
def test_it_releases_a_running_job_when_the_grace_is_over_without_spending_an_attempt(
    catalog, tenant, queue, stopping, settings
):
    settings.JOBS_LEASE_SECONDS = 30
    job = _submit(tenant, delay_seconds=30, steps=100)
    queue.purge_queue()  # the submission's own wake-up
    stopping(grace=0.5)
    # The handler runs in this thread; the heartbeat releases the job, and the handler's
    # next progress report finds it no longer holds it.
    assert services.job_run(job_id=job.pk) == JobStatus.CANCELED
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 0
    assert job.lease_token == "" and job.lease_expires_at is None and job.available_at is None
    assert JobEvent.objects.filter(job=job, status=JobStatus.QUEUED, data__reason="released").count() == 1
    assert queue.queue_size() == 1  # a wake-up for any cluster
    claimed, _token = services.job_claim(job_id=job.pk)
    assert claimed.attempts == 1


@pytest.mark.django_db
def test_a_released_job_refuses_its_old_runner(catalog, tenant):
    job = _submit(tenant)
    claimed, token = services.job_claim(job_id=job.pk)
    assert services.job_release(job_id=job.pk, token=token)
    assert not services.job_release(job_id=job.pk, token=token)
    assert not services.job_succeed(job_id=job.pk, token=token, result={"text": "late"})
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.result is None
