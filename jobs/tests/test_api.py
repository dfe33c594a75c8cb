"""The job API: submit, idempotency, validation, lifecycle routes, tenant isolation."""

from __future__ import annotations

import uuid

import pytest

from jobs.models import Artifact, Job, JobEvent, JobStatus

pytestmark = pytest.mark.django_db


def test_it_lists_enabled_models_with_defaults_and_schemas(client_a, catalog):
    from jobs.models import AIModel

    AIModel.objects.filter(slug="sf3d-v1").update(enabled=False)
    resp = client_a.get("/api/v1/models")
    assert resp.status_code == 200
    by_slug = {m["slug"]: m for m in resp.json()}
    assert {
        "text-gen-default",
        "summarize-default",
        "sentiment-v1",
        "tts-v1",
        "caption-v1",
        "dreamfusion-sd",
        "echo",
    } <= set(by_slug)
    assert "sf3d-v1" not in by_slug
    assert by_slug["text-gen-default"]["default_params"]["temperature"] == 0.7
    assert by_slug["text-gen-default"]["params_schema"]["type"] == "object"
    assert by_slug["dreamfusion-sd"]["runner"] == "external"


def test_it_seeds_the_catalog_idempotently_and_updates_parameters(catalog):
    from jobs.models import AIModel
    from jobs.seed import load_catalog

    AIModel.objects.filter(slug="tts-v1").update(default_params={"speed": 9}, enabled=False)
    created, updated = load_catalog()
    assert created == 0 and updated == 1
    tts = AIModel.objects.get(slug="tts-v1")
    assert tts.default_params == {"speed": 1.0}
    assert load_catalog() == (0, 0)


def test_it_creates_a_queued_job_with_defaults_merged(client_a, submit):
    resp = submit(client_a, "text-gen-default", "Write a haiku", input_params={"temperature": 0.2})
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["status"] == "QUEUED"
    assert body["input_params"] == {"temperature": 0.2, "max_tokens": 512}
    assert body["progress_percent"] == 0 and body["created_at"]
    job = Job.objects.get(pk=body["id"])
    assert job.events.get().status == JobStatus.QUEUED


def test_it_rejects_a_bad_parameter_naming_it(client_a, submit):
    resp = submit(client_a, "text-gen-default", "x", input_params={"temperature": 5})
    assert resp.status_code == 400
    assert "input_params.temperature" in resp.json()["error"]["fields"]
    resp = submit(client_a, "text-gen-default", "x", input_params={"colour": "red"})
    assert resp.status_code == 400
    assert "input_params.colour" in resp.json()["error"]["fields"]
    resp = submit(client_a, "no-such-model", "x")
    assert resp.status_code == 400 and "model" in resp.json()["error"]["fields"]
    resp = submit(client_a, "echo", "x", input_params=[1, 2])
    assert resp.status_code == 400 and "input_params" in resp.json()["error"]["fields"]
    resp = submit(client_a, "echo", "x", webhook_url="ftp://example.com/x")
    assert resp.status_code == 400 and "webhook_url" in resp.json()["error"]["fields"]
    assert not Job.objects.exists()


def test_it_refuses_a_private_webhook_url_unless_allowed(client_a, submit, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    resp = submit(client_a, "echo", "x", webhook_url="http://127.0.0.1:9/hook")
    assert resp.status_code == 400 and "webhook_url" in resp.json()["error"]["fields"]
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert submit(client_a, "echo", "x", webhook_url="http://127.0.0.1:9/hook").status_code == 201


def test_it_replays_the_same_job_for_the_same_idempotency_key(client_a, submit):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    first = submit(client_a, "echo", "same", headers=headers)
    again = submit(client_a, "echo", "same", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = submit(client_a, "echo", "different body", headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_it_refuses_an_idempotency_key_over_200_characters_on_every_submit_route(client_a, submit):
    long_key = {"HTTP_IDEMPOTENCY_KEY": "k" * 201}
    for resp in (
        submit(client_a, "echo", "x", headers=long_key),
        client_a.post("/api/v1/background/generate_text", {"prompt": "x"}, format="json", **long_key),
    ):
        assert resp.status_code == 400, resp.content
        assert list(resp.json()["error"]["fields"]) == ["Idempotency-Key"]
    assert not Job.objects.exists()
    at_limit = submit(client_a, "echo", "x", headers={"HTTP_IDEMPOTENCY_KEY": "k" * 200})
    assert at_limit.status_code == 201 and Job.objects.get().idempotency_key == "k" * 200


def test_it_scopes_idempotency_keys_per_tenant(client_a, client_b, submit):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    a = submit(client_a, "echo", "x", headers=headers).json()["id"]
    b = submit(client_b, "echo", "x", headers=headers).json()["id"]
    assert a != b


def test_it_gets_lists_and_filters_jobs(client_a, submit, run_job):
    j1 = submit(client_a, "echo", "one").json()["id"]
    submit(client_a, "sentiment-v1", "two")
    run_job(j1)
    resp = client_a.get(f"/api/v1/jobs/{j1}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "SUCCEEDED" and body["result"] == {"text": "one"}
    assert body["started_at"] and body["completed_at"] and body["progress_percent"] == 100
    listed = client_a.get("/api/v1/jobs/").json()["results"]
    assert len(listed) == 2
    only = client_a.get("/api/v1/jobs/", {"status": "SUCCEEDED"}).json()["results"]
    assert [j["id"] for j in only] == [j1]
    by_model = client_a.get("/api/v1/jobs/", {"model": "sentiment-v1"}).json()["results"]
    assert [j["model"] for j in by_model] == ["sentiment-v1"]
    bad = client_a.get("/api/v1/jobs/", {"status": "DONE"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_it_lists_events_of_every_transition(client_a, submit, run_job):
    job_id = submit(client_a, "echo", "x", input_params={"delay_seconds": 0.2, "steps": 2}).json()["id"]
    run_job(job_id)
    events = client_a.get(f"/api/v1/jobs/{job_id}/events").json()
    kinds = [(e["kind"], e["status"]) for e in events]
    assert kinds[0] == ("status", "QUEUED") and kinds[1] == ("status", "RUNNING")
    assert ("progress", "") in kinds
    assert kinds[-1] == ("status", "SUCCEEDED")


def test_it_cancels_a_queued_job_and_refuses_to_cancel_a_finished_one(client_a, submit, run_job):
    job_id = submit(client_a, "echo", "x").json()["id"]
    resp = client_a.post(f"/api/v1/jobs/{job_id}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "CANCELED"
    assert run_job(job_id) is None  # the wake-up finds nothing to do
    assert client_a.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 409


def test_it_retries_only_failed_or_canceled_jobs(client_a, submit, run_job):
    job_id = submit(client_a, "echo", "x").json()["id"]
    resp = client_a.post(f"/api/v1/jobs/{job_id}/retry")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "invalid_state"
    client_a.post(f"/api/v1/jobs/{job_id}/cancel")
    resp = client_a.post(f"/api/v1/jobs/{job_id}/retry")
    assert resp.status_code == 200 and resp.json()["status"] == "QUEUED"
    assert run_job(job_id) == "SUCCEEDED"
    assert client_a.post(f"/api/v1/jobs/{job_id}/retry").status_code == 409


def test_it_answers_400_for_download_until_succeeded_and_404_without_output(client_a, submit, run_job, local_files):
    job_id = submit(client_a, "echo", "x").json()["id"]
    resp = client_a.get(f"/api/v1/jobs/{job_id}/download")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "not_ready"
    run_job(job_id)
    resp = client_a.get(f"/api/v1/jobs/{job_id}/download")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "This job has no output artifact."  # the service's own words


def test_it_downloads_an_output_through_a_signed_url(client_a, submit, run_job, local_files):
    job_id = submit(client_a, "echo", "file body", input_params={"write_output": True}).json()["id"]
    run_job(job_id)
    resp = client_a.get(f"/api/v1/jobs/{job_id}/download")
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["artifact"]["size"] == len(b"file body")
    from django.test import Client

    got = Client().get(body["url"].replace("http://testserver", ""))
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"file body"
    bad = client_a.get(f"/api/v1/jobs/{job_id}/download", {"artifact": "x"})
    assert bad.status_code == 400 and "artifact" in bad.json()["error"]["fields"]


def test_it_records_an_uploaded_input_only_when_a_job_uses_it(client_a, submit, local_files):
    from django.test import Client

    ticket = client_a.post(
        "/api/v1/jobs/upload-ticket", {"filename": "../cat photo.png", "content_type": "image/png", "size_bytes": 4}
    )
    assert ticket.status_code == 201, ticket.json()
    t = ticket.json()
    assert t["key"].startswith("tenants/acme/uploads/") and t["key"].endswith("/cat-photo.png")
    put = Client().generic(
        "PUT", t["upload_url"].replace("http://testserver", ""), b"\x89PNG", content_type="image/png"
    )
    assert put.status_code == 200
    assert not Artifact.objects.exists()
    resp = submit(client_a, "echo", "x", input_keys=[t["key"]])
    assert resp.status_code == 201, resp.json()
    art = Artifact.objects.get()
    assert art.kind == "input" and art.size == 4 and art.content_type == "image/png" and len(art.sha256) == 64


def test_it_refuses_bad_upload_tickets_and_foreign_or_missing_input_keys(client_a, submit, local_files, settings):
    settings.UPLOAD_MAX_BYTES = 10
    resp = client_a.post("/api/v1/jobs/upload-ticket", {"filename": "a.bin", "content_type": "nonsense"})
    assert resp.status_code == 400 and "content_type" in resp.json()["error"]["fields"]
    resp = client_a.post("/api/v1/jobs/upload-ticket", {"filename": "a.bin", "content_type": "a/b", "size_bytes": 11})
    assert resp.status_code == 400 and "size_bytes" in resp.json()["error"]["fields"]
    resp = submit(client_a, "echo", "x", input_keys=["tenants/globex/uploads/x/a.png"])
    assert resp.status_code == 400 and "input_keys" in resp.json()["error"]["fields"]
    resp = submit(client_a, "echo", "x", input_keys=["tenants/acme/uploads/nothing/a.png"])
    assert resp.status_code == 400 and "input_keys" in resp.json()["error"]["fields"]


def test_it_refuses_an_upload_over_the_size_limit(client_a, local_files, settings):
    from django.test import Client

    settings.UPLOAD_MAX_BYTES = 10
    t = client_a.post("/api/v1/jobs/upload-ticket", {"filename": "a.bin", "content_type": "a/b"}).json()
    put = Client().generic("PUT", t["upload_url"].replace("http://testserver", ""), b"x" * 11, content_type="a/b")
    assert put.status_code == 413 and put.json()["error"]["code"] == "too_large"


def test_it_serves_the_background_aliases(client_a, catalog, run_job):
    resp = client_a.post("/api/v1/background/generate_text", {"prompt": "Our shop opens at nine."})
    assert resp.status_code == 202
    task_id = resp.json()["task_id"]
    assert client_a.get(f"/api/v1/background/tasks/{task_id}").json()["status"] == "PENDING"
    run_job(task_id)
    body = client_a.get(f"/api/v1/background/tasks/{task_id}").json()
    assert body["status"] == "SUCCESS" and body["result"]["text"]
    bad = client_a.post("/api/v1/background/generate_text", {"prompt": "x", "max_tokens": 0})
    assert bad.status_code == 400 and "max_tokens" in bad.json()["error"]["fields"]


def test_it_needs_the_jobs_scope(make_client, tenant, catalog):
    client = make_client(tenant, scopes=["chat"])
    assert client.get("/api/v1/jobs/").status_code == 403
    assert make_client(None).get("/api/v1/jobs/").status_code == 401


@pytest.mark.parametrize(
    "method,suffix",
    [
        ("get", ""),
        ("get", "/events"),
        ("post", "/cancel"),
        ("post", "/retry"),
        ("get", "/download"),
    ],
)
def test_it_answers_404_for_another_tenants_job_on_every_route(client_a, client_b, submit, run_job, method, suffix):
    job_id = submit(client_a, "echo", "secret", input_params={"write_output": True}).json()["id"]
    run_job(job_id)
    resp = getattr(client_b, method)(f"/api/v1/jobs/{job_id}{suffix}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert client_b.get(f"/api/v1/background/tasks/{job_id}").status_code == 404
    assert client_b.get("/api/v1/jobs/").json()["results"] == []
    assert getattr(client_a, method)(f"/api/v1/jobs/{uuid.uuid4()}{suffix}").status_code == 404
    assert JobEvent.objects.filter(job_id=job_id).count() >= 3


def test_it_lets_the_platform_key_act_for_a_tenant_named_by_header(platform_client, tenant, submit):
    resp = submit(platform_client, "echo", "x", headers={"HTTP_X_TENANT_ID": tenant.pk})
    assert resp.status_code == 201
    assert Job.objects.get().tenant_id == tenant.pk
    resp = submit(platform_client, "echo", "x")
    assert resp.status_code == 400 and "X-Tenant-Id" in resp.json()["error"]["fields"]
