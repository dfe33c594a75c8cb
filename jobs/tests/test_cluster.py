"""Jobs run by a real ``qcluster`` subprocess (ORM broker on the embedded default, Redis
with REDIS_URL), and recovered by the reconciler after the cluster is SIGKILLed."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from jobs import services
from jobs.models import Job, JobEvent, JobStatus
from siganteng.testing import kill_cluster, qcluster, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, pytest.mark.slow]


def _status(job_id):
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def test_it_runs_a_job_on_a_real_cluster_with_a_downloadable_output(catalog, client_a, local_files):
    with qcluster(MEDIA_ROOT=str(local_files)) as cluster:
        resp = client_a.post(
            "/api/v1/jobs/",
            {"model": "echo", "prompt": "from the cluster", "input_params": {"write_output": True}},
            format="json",
        )
        job_id = resp.json()["id"]
        wait_until(
            lambda: _status(job_id) in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=60, message="the job to finish"
        )
        kill_cluster(cluster)  # done with it; a graceful stop only costs time here
    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.worker_id.startswith("cluster:")
    url = client_a.get(f"/api/v1/jobs/{job_id}/download").json()["url"]
    got = Client().get(url.removeprefix("http://testserver"))
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"from the cluster"


def test_it_recovers_a_job_whose_cluster_was_killed_mid_run(catalog, tenant, settings):
    broker = "redis" if settings.REDIS_URL else "orm"
    settings.JOBS_LEASE_SECONDS = 2
    env = {"JOBS_LEASE_SECONDS": "2"}
    with qcluster(**env) as first:
        job = services.job_submit(
            tenant=tenant, model_slug="echo", prompt="survivor", input_params={"delay_seconds": 4, "steps": 16}
        )[0]
        wait_until(
            lambda: JobEvent.objects.filter(job=job, kind="progress").exists(), timeout=60, message="the job to start"
        )
        kill_cluster(first)
    assert _status(job.pk) == JobStatus.RUNNING  # the row still says RUNNING: its runner is gone
    time.sleep(2.5)  # the lease runs out
    with qcluster(**env) as second:
        counts = services.jobs_reconcile()
        assert counts["requeued"] == 1, (broker, counts)
        wait_until(lambda: _status(job.pk) == JobStatus.SUCCEEDED, timeout=60, message="the job to be redone")
        kill_cluster(second)
    job.refresh_from_db()
    assert job.attempts == 2 and job.result == {"text": "survivor"}
    completions = JobEvent.objects.filter(job=job, kind="status", status=JobStatus.SUCCEEDED).count()
    assert completions == 1
    assert JobEvent.objects.filter(job=job, data__reason="lease_expired").count() == 1


def test_it_runs_a_submitted_batch_on_a_real_cluster_each_job_once(catalog, client_a):
    """A batch's wake-ups go out together (one RPUSH on Redis) after the commit; every job
    runs once: one RUNNING and one SUCCEEDED event each."""
    with qcluster() as cluster:
        resp = client_a.post(
            "/api/v1/jobs/batch", {"jobs": [{"model": "echo", "prompt": f"b{i}"} for i in range(20)]}, format="json"
        )
        assert resp.status_code == 201, resp.json()
        ids = [job["id"] for job in resp.json()["jobs"]]
        wait_until(
            lambda: Job.objects.filter(pk__in=ids, status=JobStatus.SUCCEEDED).count() == 20,
            timeout=60,
            message="the batch to finish",
        )
        kill_cluster(cluster)
    for i, job_id in enumerate(ids):
        assert Job.objects.get(pk=job_id).result == {"text": f"b{i}"}
        statuses = list(JobEvent.objects.filter(job_id=job_id, kind="status").values_list("status", flat=True))
        assert sorted(statuses) == sorted([JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED])
