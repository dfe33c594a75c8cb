"""The external-worker protocol, driven by the reference client against a live server."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobEvent, JobStatus
from jobs.worker import LeaseLost, Output, Worker, demo_execute, main
from siganteng.testing import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_key(make_key, tenant):
    return make_key(tenant, ["worker"])


def _external(tenant, n=1, slug="dreamfusion-sd"):
    return [services.job_submit(tenant=tenant, model_slug=slug, prompt=f"a chair {i}")[0] for i in range(n)]


def _completions(job_id) -> int:
    return JobEvent.objects.filter(job_id=job_id, kind="status", status=JobStatus.SUCCEEDED).count()


def test_it_runs_an_external_job_end_to_end_through_the_reference_worker(
    live_server, catalog, local_files, make_client, tenant, worker_key
):
    client = make_client(tenant, scopes=["jobs"])
    ticket = client.post("/api/v1/jobs/upload-ticket", {"filename": "chair.png", "content_type": "image/png"}).json()
    url = ticket["upload_url"].replace("http://testserver", live_server.url)
    assert httpx.put(url, content=b"\x89PNG fake", headers=ticket["headers"]).status_code == 200
    job = services.job_submit(tenant=tenant, model_slug="sf3d-v1", input_keys=[ticket["key"]])[0]

    worker = Worker(live_server.url, worker_key, worker_id="gpu-1")
    assert worker.run_once(["image-to-3d"], demo_execute) == str(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["inputs"] == 1 and job.worker_id == "gpu-1"
    output = job.artifacts.get(kind="output")
    assert output.key.startswith(f"tenants/acme/jobs/{job.pk}/outputs/") and output.size > 0
    progress = list(job.events.filter(kind="progress").values_list("progress_percent", flat=True))
    assert progress == [25, 50, 75]

    download = client.get(f"/api/v1/jobs/{job.pk}/download").json()
    got = httpx.get(download["url"].replace("http://testserver", live_server.url))
    assert got.status_code == 200 and got.json()["input_sizes"] == [len(b"\x89PNG fake")]
    assert worker.run_once(["image-to-3d"], demo_execute) is None  # nothing left: 204


def test_it_never_hands_the_same_job_to_two_workers_claiming_at_once(live_server, catalog, tenant, worker_key):
    jobs = _external(tenant, 30)

    def run(n: int) -> list[str]:
        w = Worker(live_server.url, worker_key, worker_id=f"w{n}")
        ids = []
        while (job := w.claim(["text-to-3d"])) is not None:
            ids.append(job["id"])
        return ids

    claimed = [job_id for ids in run_concurrently(run, 4, timeout=120) for job_id in ids]
    assert len(claimed) == len(jobs)
    assert len(set(claimed)) == len(claimed)
    assert Job.objects.filter(status=JobStatus.RUNNING, attempts=1).count() == len(jobs)


def test_it_gives_a_silent_workers_job_to_another_worker(live_server, catalog, tenant, worker_key):
    (job,) = _external(tenant)
    silent = Worker(live_server.url, worker_key, worker_id="silent", lease_seconds=5, heartbeat=False)
    assert silent.claim(["text-to-3d"])["id"] == str(job.pk)

    # The silent worker's lease runs out; the reconciler takes the job back.
    counts = services.jobs_reconcile(now=timezone.now() + dt.timedelta(seconds=6))
    assert counts["requeued"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    healthy = Worker(live_server.url, worker_key, worker_id="healthy")
    assert healthy.run_once(["text-to-3d"], lambda j, w: ([Output("m.glb", b"glb", "model/gltf-binary")], {}))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.worker_id == "healthy" and job.attempts == 2

    # The silent worker wakes up: everything it says is refused, nothing changes.
    with pytest.raises(LeaseLost):
        silent.heartbeat()
    with pytest.raises(LeaseLost):
        silent.complete([], {"late": True})
    job.refresh_from_db()
    assert job.result == {} and _completions(job.pk) == 1


def test_it_requeues_a_retryable_failure_and_fails_a_permanent_one(live_server, catalog, tenant, worker_key):
    first, second = _external(tenant, 2)
    w = Worker(live_server.url, worker_key)
    w.claim(["text-to-3d"])
    w.fail("CUDA out of memory", retryable=True)
    first.refresh_from_db()
    assert first.status == JobStatus.QUEUED and "CUDA" in first.error and first.available_at

    services.jobs_reconcile(now=timezone.now() + dt.timedelta(hours=1))  # (external jobs are not enqueued)
    Job.objects.filter(pk=first.pk).update(available_at=None)
    w.claim(["text-to-3d"])
    assert w.job["id"] in (str(first.pk), str(second.pk))
    w.fail("unsupported prompt", retryable=False)
    failed = Job.objects.get(pk=w.job["id"])
    assert failed.status == JobStatus.FAILED and failed.error == "unsupported prompt"


def test_it_validates_worker_input_and_output_keys(live_server, catalog, tenant, worker_key):
    (job,) = _external(tenant)
    http = httpx.Client(base_url=live_server.url, headers={"X-API-Key": worker_key})
    resp = http.post("/api/v1/workers/claim", json={"worker_id": "w"})
    assert resp.status_code == 400 and "kinds" in resp.json()["error"]["fields"]
    w = Worker(live_server.url, worker_key)
    w.claim(["text-to-3d"])
    resp = http.post(
        f"/api/v1/workers/jobs/{job.pk}/complete",
        json={"lease_token": w.token, "outputs": [{"key": "tenants/globex/x.glb"}]},
    )
    assert resp.status_code == 400 and "outputs[0].key" in resp.json()["error"]["fields"]
    resp = http.post(f"/api/v1/workers/jobs/{job.pk}/progress", json={"lease_token": w.token, "progress_percent": 101})
    assert resp.status_code == 400 and "progress_percent" in resp.json()["error"]["fields"]
    resp = http.post(f"/api/v1/workers/jobs/{job.pk}/heartbeat", json={"lease_token": "forged"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "lease_lost"


def test_it_keeps_workers_to_their_tenant_and_scope(live_server, catalog, tenant, other_tenant, make_key, worker_key):
    (job,) = _external(tenant)
    other = make_key(other_tenant, ["worker"])
    w_other = Worker(live_server.url, other)
    assert w_other.claim(["text-to-3d"]) is None
    http = httpx.Client(base_url=live_server.url, headers={"X-API-Key": other})
    for route in ("heartbeat", "progress", "complete", "fail", "upload-ticket"):
        resp = http.post(f"/api/v1/workers/jobs/{job.pk}/{route}", json={"lease_token": "x"})
        assert resp.status_code == 404, route
    jobs_only = httpx.post(
        f"{live_server.url}/api/v1/workers/claim",
        json={"kinds": ["text-to-3d"], "worker_id": "w"},
        headers={"X-API-Key": make_key(tenant, ["jobs"])},
    )
    assert jobs_only.status_code == 403
    # The platform key serves every tenant's jobs.
    from django.conf import settings

    fleet = Worker(live_server.url, settings.ADMIN_API_KEY)
    assert fleet.claim(["text-to-3d"])["id"] == str(job.pk)


def test_it_runs_the_command_line_worker_once(live_server, catalog, tenant, worker_key, local_files, capsys):
    (job,) = _external(tenant)
    assert main(["--url", live_server.url, "--key", worker_key, "--kinds", "text-to-3d", "--once"]) == 0
    assert f"done {job.pk}" in capsys.readouterr().out
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
