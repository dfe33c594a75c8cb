"""Batch submission: POST /api/v1/jobs/batch creates every job or none, names the bad
item's field, replays per-item idempotency keys, and wakes every internal job through the
real broker once the transaction commits."""

from __future__ import annotations

import pytest

from jobs import services
from jobs.models import Artifact, Job, JobEvent, JobStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/jobs/batch"


def _post(client, jobs):
    return client.post(URL, {"jobs": jobs}, format="json")


@pytest.fixture
def queue():
    """The real broker, emptied before and after the test."""
    from siganteng.queue import broker

    b = broker()
    b.purge_queue()
    yield b
    b.purge_queue()


def test_it_creates_the_jobs_in_order_and_wakes_each_once_committed(
    client_a, catalog, queue, django_capture_on_commit_callbacks, settings
):
    settings.JOBS_TENANT_CONCURRENCY = 2  # room for both internal jobs (see test_fairness)
    items = [
        {"model": "echo", "prompt": "one"},
        {"model": "text-gen-default", "prompt": "two", "input_params": {"temperature": 0.1}},
        {"model": "dreamfusion-sd", "prompt": "a chair"},  # external: a worker claims it, no wake-up
    ]
    with django_capture_on_commit_callbacks(execute=True):
        resp = _post(client_a, items)
        assert queue.queue_size() == 0  # nothing reaches the broker before the commit
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert [j["prompt"] for j in body["jobs"]] == ["one", "two", "a chair"]
    assert [j["model"] for j in body["jobs"]] == ["echo", "text-gen-default", "dreamfusion-sd"]
    assert body["jobs"][1]["input_params"] == {"temperature": 0.1, "max_tokens": 512}
    assert all(j["status"] == "QUEUED" for j in body["jobs"]) and body["replayed"] == []
    ids = [j["id"] for j in body["jobs"]]
    assert Job.objects.filter(pk__in=ids).count() == 3
    for job_id in ids:
        assert list(JobEvent.objects.filter(job_id=job_id).values_list("status", flat=True)) == [JobStatus.QUEUED]
    assert queue.queue_size() == 2


def test_the_woken_jobs_run_to_success(client_a, catalog, run_job):
    resp = _post(client_a, [{"model": "echo", "prompt": f"p{i}"} for i in range(5)])
    for job in resp.json()["jobs"]:
        assert run_job(job["id"]) == JobStatus.SUCCEEDED
    got = client_a.get(f"/api/v1/jobs/{resp.json()['jobs'][4]['id']}").json()
    assert got["status"] == "SUCCEEDED" and got["result"] == {"text": "p4"}


def test_one_bad_item_creates_none_and_each_bad_field_is_named(client_a, catalog):
    resp = _post(
        client_a,
        [
            {"model": "echo", "prompt": "fine"},
            {"model": "text-gen-default", "prompt": "x", "input_params": {"temperature": 5}},
            {"model": "no-such-model"},
            {"model": "echo", "webhook_url": "ftp://example.com/x"},
        ],
    )
    assert resp.status_code == 400
    fields = resp.json()["error"]["fields"]
    assert set(fields) == {"jobs[1].input_params.temperature", "jobs[2].model", "jobs[3].webhook_url"}
    assert not Job.objects.exists() and not JobEvent.objects.exists()

    shape = _post(client_a, [{"model": "echo"}, {"prompt": "no model"}, {"model": "echo", "input_params": [1]}])
    assert shape.status_code == 400
    assert set(shape.json()["error"]["fields"]) == {"jobs[1].model", "jobs[2].input_params"}
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"jobs": []}, {"jobs": "echo"}, {"jobs": [{"model": "echo"}] * 101}, {"jobs": [7]}],
    ids=["missing", "empty", "not-a-list", "too-many", "item-not-an-object"],
)
def test_it_answers_400_naming_jobs_for_a_bad_envelope(client_a, catalog, body):
    resp = client_a.post(URL, body, format="json")
    assert resp.status_code == 400
    assert any(name.startswith("jobs") for name in resp.json()["error"]["fields"])
    assert not Job.objects.exists()


def test_it_replays_items_by_idempotency_key_and_refuses_another_body(client_a, catalog):
    first = _post(client_a, [{"model": "echo", "prompt": "a", "idempotency_key": "k-a"}])
    job_a = first.json()["jobs"][0]["id"]

    again = _post(
        client_a,
        [
            {"model": "echo", "prompt": "b", "idempotency_key": "k-b"},
            {"model": "echo", "prompt": "a", "idempotency_key": "k-a"},
        ],
    )
    assert again.status_code == 201
    assert again.json()["jobs"][1]["id"] == job_a and again.json()["replayed"] == [1]
    assert Job.objects.count() == 2

    other = _post(
        client_a,
        [
            {"model": "echo", "prompt": "c", "idempotency_key": "k-c"},
            {"model": "echo", "prompt": "not a", "idempotency_key": "k-a"},
        ],
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "jobs[1].idempotency_key" in other.json()["error"]["fields"]
    assert Job.objects.count() == 2  # k-c was not created either

    # The single route and the batch route share keys: same key and body is the same job.
    single = client_a.post("/api/v1/jobs/", {"model": "echo", "prompt": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k-a")
    assert single.status_code == 201 and single.json()["id"] == job_a


def test_it_refuses_one_key_twice_in_a_batch(client_a, catalog):
    resp = _post(
        client_a,
        [{"model": "echo", "idempotency_key": "dup"}, {"model": "echo", "idempotency_key": "dup"}],
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"jobs[1].idempotency_key": ["Repeats the key of jobs[0]."]}
    assert not Job.objects.exists()


def test_it_keeps_tenants_apart(client_a, client_b, catalog, make_client, tenant):
    a = _post(client_a, [{"model": "echo", "prompt": "x", "idempotency_key": "shared"}]).json()["jobs"][0]
    b = _post(client_b, [{"model": "echo", "prompt": "x", "idempotency_key": "shared"}]).json()["jobs"][0]
    assert a["id"] != b["id"]
    assert client_b.get(f"/api/v1/jobs/{a['id']}").status_code == 404
    foreign = _post(client_b, [{"model": "echo", "input_keys": [f"tenants/{tenant.pk}/uploads/x/in.png"]}])
    assert foreign.status_code == 400 and "jobs[0].input_keys" in foreign.json()["error"]["fields"]
    no_scope = _post(make_client(tenant, scopes=["chat"]), [{"model": "echo"}])
    assert no_scope.status_code == 403
    assert Job.objects.count() == 2


def test_it_records_each_items_input_artifacts(client_a, catalog, local_files):
    keys = []
    for name in ("a.png", "b.png"):
        ticket = client_a.post(
            "/api/v1/jobs/upload-ticket", {"filename": name, "content_type": "image/png"}, format="json"
        ).json()
        from siganteng import storage

        storage.save(ticket["key"], b"\x89PNG" + name.encode(), content_type="image/png")
        keys.append(ticket["key"])
    resp = _post(
        client_a,
        [
            {"model": "caption-v1", "input_keys": [keys[0]]},
            {"model": "echo", "prompt": "no inputs"},
            {"model": "caption-v1", "input_keys": [keys[1]]},
        ],
    )
    assert resp.status_code == 201, resp.json()
    jobs = resp.json()["jobs"]
    assert [[a["key"] for a in j["artifacts"]] for j in jobs] == [[keys[0]], [], [keys[1]]]
    assert Artifact.objects.filter(kind=Artifact.Kind.INPUT).count() == 2


def test_it_keeps_each_items_own_values(tenant, catalog):
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
    events = JobEvent.objects.filter(job__in=jobs).values_list("kind", "status", "message")
    assert list(events) == [("status", JobStatus.QUEUED, "Job submitted.")] * 3


def test_it_takes_a_batch_of_external_jobs_with_no_wake_up_time(tenant, catalog):
    items = [{"model": "dreamfusion-sd", "prompt": "a chair"}, {"model": "dreamfusion-sd", "prompt": "a table"}]
    jobs = [job for job, _ in services.job_submit_batch(tenant=tenant, items=items)]
    stored = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert sorted(stored.values_list("prompt", flat=True)) == ["a chair", "a table"]
    assert list(stored.values_list("enqueued_at", flat=True)) == [None, None]
