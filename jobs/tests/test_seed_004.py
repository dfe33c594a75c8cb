"""Seed 004 (TCC 3D pipeline): its documented job requests, replayed verbatim — paths,
bodies, the ``x-api-key`` header — against the documented status codes and fields.
Today's names (``model``, ``url``, ``key``) keep working beside the seed's."""

from __future__ import annotations

import pytest
from django.test import Client

from jobs.models import Artifact, Job, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def seed_client(make_key, tenant, catalog, local_files):
    """A plain HTTP client sending the key as the seed does: ``x-api-key``."""
    return Client(headers={"x-api-key": make_key(tenant, ["jobs"])})


@pytest.fixture
def worker(make_client, tenant):
    return make_client(tenant, scopes=["worker"])


def _upload(client: Client, data: bytes = b"\x89PNG fake") -> str:
    """Seed 004 §4 A, steps 1 and 2: ask for a ticket, PUT the bytes to its URL."""
    ticket = client.post(
        "/api/v1/jobs/upload-ticket",
        {"filename": "textura.png", "content_type": "image/png"},
        content_type="application/json",
    )
    assert ticket.status_code == 201, ticket.json()
    body = ticket.json()
    assert body["upload_url"] and body["object_name"] == body["key"]
    put = Client().generic("PUT", body["upload_url"].removeprefix("http://testserver"), data, content_type="image/png")
    assert put.status_code == 200
    return body["object_name"]


def _create(client: Client, body: dict):
    return client.post("/api/v1/jobs/", body, content_type="application/json")


def test_it_creates_a_job_from_the_documented_request(seed_client):
    resp = _create(
        seed_client, {"model_id": "sf3d-v1", "input_params": {"texture_resolution": 1024, "foreground_ratio": 0.85}}
    )
    assert resp.status_code == 201, resp.json()
    job = resp.json()
    assert job["model_id"] == "sf3d-v1" and job["model"] == "sf3d-v1"
    assert job["status"] == "QUEUED" and job["id"] and job["created_at"]
    assert job["input_params"] == {"texture_resolution": 1024, "foreground_ratio": 0.85, "remesh": "none"}


def test_it_answers_the_documented_polling_fields(seed_client, worker):
    job_id = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {}}).json()["id"]
    polled = seed_client.get(f"/api/v1/jobs/{job_id}")
    assert polled.status_code == 200
    for name in (
        "id",
        "status",
        "progress_percent",
        "created_at",
        "started_at",
        "completed_at",
        "model_id",
        "input_params",
    ):
        assert name in polled.json(), name
    claim = worker.post("/api/v1/workers/claim", {"kinds": ["image-to-3d"], "worker_id": "gpu-1"}, format="json").json()
    worker.post(f"/api/v1/workers/jobs/{job_id}/complete", {"lease_token": claim["lease_token"]}, format="json")
    done = seed_client.get(f"/api/v1/jobs/{job_id}").json()
    assert done["status"] == "SUCCEEDED" and done["progress_percent"] == 100
    assert done["started_at"] and done["completed_at"]


def test_it_records_the_uploaded_image_as_the_jobs_input(seed_client):
    object_name = _upload(seed_client)
    resp = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {"image_path": object_name}})
    assert resp.status_code == 201, resp.json()
    job = Job.objects.get(pk=resp.json()["id"])
    assert job.input_params["image_path"] == object_name
    artifact = Artifact.objects.get(job=job)
    assert (artifact.kind, artifact.key, artifact.content_type) == ("input", object_name, "image/png")
    assert [a["key"] for a in resp.json()["artifacts"]] == [object_name]


@pytest.mark.parametrize(
    "image_path",
    ["tenants/acme/uploads/never/textura.png", "tenants/globex/uploads/theirs/textura.png", "../etc/passwd"],
)
def test_it_refuses_an_image_path_that_is_not_this_tenants_upload_and_writes_nothing(seed_client, image_path):
    resp = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {"image_path": image_path}})
    assert resp.status_code == 400
    assert "input_params.image_path" in resp.json()["error"]["fields"]
    assert not Job.objects.exists() and not Artifact.objects.exists()


def test_it_refuses_another_tenants_upload_as_image_path(seed_client, make_key, other_tenant):
    theirs = _upload(Client(headers={"x-api-key": make_key(other_tenant, ["jobs"])}))
    resp = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {"image_path": theirs}})
    assert resp.status_code == 400 and "input_params.image_path" in resp.json()["error"]["fields"]
    assert not Job.objects.exists()


def test_it_downloads_the_output_as_documented(seed_client, worker):
    job_id = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {"image_path": _upload(seed_client)}}).json()[
        "id"
    ]
    early = seed_client.get(f"/api/v1/jobs/{job_id}/download")
    assert early.status_code == 400

    claim = worker.post("/api/v1/workers/claim", {"kinds": ["image-to-3d"], "worker_id": "gpu-1"}, format="json").json()
    token = claim["lease_token"]
    ticket = worker.post(
        f"/api/v1/workers/jobs/{job_id}/upload-ticket",
        {"lease_token": token, "filename": "model.glb", "content_type": "model/gltf-binary"},
        format="json",
    ).json()
    put = Client().generic(
        "PUT", ticket["upload_url"].removeprefix("http://testserver"), b"glTF", content_type="model/gltf-binary"
    )
    assert put.status_code == 200
    worker.post(
        f"/api/v1/workers/jobs/{job_id}/complete",
        {"lease_token": token, "outputs": [{"key": ticket["object_name"]}]},
        format="json",
    )
    resp = seed_client.get(f"/api/v1/jobs/{job_id}/download")
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["expires_in"] == 3600 and body["download_url"] == body["url"]
    got = Client().get(body["download_url"].removeprefix("http://testserver"))
    assert b"".join(got.streaming_content) == b"glTF"


def test_it_says_when_a_finished_job_has_no_output(seed_client, worker):
    job_id = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {}}).json()["id"]
    claim = worker.post("/api/v1/workers/claim", {"kinds": ["image-to-3d"], "worker_id": "gpu-1"}, format="json").json()
    worker.post(f"/api/v1/workers/jobs/{job_id}/complete", {"lease_token": claim["lease_token"]}, format="json")
    assert Job.objects.get(pk=job_id).status == JobStatus.SUCCEEDED
    resp = seed_client.get(f"/api/v1/jobs/{job_id}/download")
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "This job has no output artifact."


def test_it_takes_model_id_in_a_batch_and_keeps_model_working(seed_client):
    resp = seed_client.post(
        "/api/v1/jobs/batch",
        {"jobs": [{"model_id": "sf3d-v1", "input_params": {}}, {"model": "dreamfusion-sd", "prompt": "a chair"}]},
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.json()
    assert [j["model_id"] for j in resp.json()["jobs"]] == ["sf3d-v1", "dreamfusion-sd"]


def test_it_names_the_model_field_when_neither_or_two_different_are_given(seed_client):
    missing = _create(seed_client, {"input_params": {}})
    assert missing.status_code == 400 and "model" in missing.json()["error"]["fields"]
    both = _create(seed_client, {"model": "echo", "model_id": "sf3d-v1"})
    assert both.status_code == 400 and "model_id" in both.json()["error"]["fields"]
    assert not Job.objects.exists()


def test_another_tenants_job_is_not_found(seed_client, make_key, other_tenant):
    job_id = _create(seed_client, {"model_id": "sf3d-v1", "input_params": {}}).json()["id"]
    theirs = Client(headers={"x-api-key": make_key(other_tenant, ["jobs"])})
    assert theirs.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert theirs.get(f"/api/v1/jobs/{job_id}/download").status_code == 404
