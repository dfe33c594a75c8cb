"""The seed documents' example requests, replayed as their clients send them.

Each test below names the seed (/work/shared/seeds/ in the project's design record) and
sends its documented request: the path, the body and the headers it shows, and checks
the documented status code and response fields. API routes are under ``/api/v1`` (a
seed client's base URL, as seed 004 documents); ``/health``, ``/docs`` and ``/redoc``
are where the seeds put them. Seed 004's job routes are replayed in
``jobs/tests/test_seed_004.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from siganteng.tests.seeding import TELEGRAM_TOKEN
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _seed_client(key: str, tenant_id: str | None = None) -> Client:
    """A client sending the seeds' headers on every request."""
    headers = {"X-API-Key": key}
    if tenant_id:
        headers["X-Tenant-Id"] = tenant_id
    return Client(headers=headers)


@pytest.fixture
def toko(settings) -> tuple[Client, str]:
    """Seed 001's set-up, through its own route: the operator creates the tenant with
    ``PUT /tenants/{id}/settings`` and an empty ``api_key``, and gets the key once."""
    operator = _seed_client(settings.ADMIN_API_KEY)
    resp = operator.put(
        f"{API}/tenants/toko-budi/settings",
        {
            "name": "Toko Budi",
            "persona": "Kamu adalah Sari, asisten Toko Budi yang ramah.",
            "sop": "Jawab dari basis pengetahuan.",
            "locale": "id",
            "timezone": "Asia/Jakarta",
            "working_hours": {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
            "api_key": "",
        },
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content
    return _seed_client(resp.json()["api_key"]["key"], "toko-budi"), resp.json()["api_key"]["key"]


# --- seed 000: SIGANTENG backend (background tasks, Swagger) ------------------------------


def test_seed_000_background_generate_text_answers_202_with_a_task_id_then_polls_to_success(toko):
    from jobs.seed import load_catalog
    from jobs.services import job_run

    load_catalog()
    client, _ = toko
    resp = client.post(
        f"{API}/background/generate_text", {"prompt": "Tulis salam pembuka."}, content_type="application/json"
    )
    assert resp.status_code == 202
    task_id = resp.json()["task_id"]
    polled = client.get(f"{API}/background/tasks/{task_id}")
    assert polled.status_code == 200 and polled.json()["status"] in ("PENDING", "SUCCESS", "FAILURE")
    job_run(job_id=task_id)  # what the worker does
    done = client.get(f"{API}/background/tasks/{task_id}").json()
    assert done["status"] == "SUCCESS" and done["result"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_seed_000_and_004_serve_the_interactive_docs(path):
    resp = Client().get(path)
    assert resp.status_code == 200 and b"/api/schema/" in resp.content


# --- seed 001: AI agent (Gemini) -----------------------------------------------------------


def test_seed_001_settings_get_and_put_with_an_empty_api_key(toko):
    client, key = toko
    assert key.startswith("sgt_")
    got = client.get(f"{API}/tenants/toko-budi/settings")
    assert got.status_code == 200
    assert {"persona", "sop", "working_hours", "timezone", "locale"} <= set(got.json())
    put = client.put(
        f"{API}/tenants/toko-budi/settings", {"persona": "Sari, ramah.", "api_key": ""}, content_type="application/json"
    )
    assert put.status_code == 200 and put.json()["persona"] == "Sari, ramah."
    assert put.json()["api_key"]["key"] != key  # a new random key, shown once
    own = "kunci-lama-klien-0123456789abcdefXYZ"  # an operator migrating its clients' key
    kept = client.put(f"{API}/tenants/toko-budi/settings", {"api_key": own}, content_type="application/json")
    assert kept.status_code == 200
    assert _seed_client(own, "toko-budi").get(f"{API}/tenants/toko-budi/settings").status_code == 200
    short = client.put(f"{API}/tenants/toko-budi/settings", {"api_key": "pendek"}, content_type="application/json")
    assert short.status_code == 400 and "api_key" in short.json()["error"]["fields"]


def test_seed_001_chat_request(toko):
    client, _ = toko
    upsert = client.post(
        f"{API}/kb/upsert",
        {
            "external_id": "ongkir",
            "title": "Ongkos kirim",
            "body": "Pengiriman ke Bali memakan waktu 3-4 hari kerja. Ongkir ke Bali Rp 25.000.",
        },
        content_type="application/json",
    )
    assert upsert.status_code in (200, 201, 202), upsert.content
    from knowledge.services import document_index

    document_index(document_id=upsert.json()["id"])  # what the ingestion task does
    chat_request = {
        "tenant_id": "toko-budi",
        "user_id": "628123456789",
        "messages": [{"role": "user", "content": "Berapa lama pengiriman ke Bali?"}],
        "channel": "api",
        "locale": "id",
    }
    resp = client.post(f"{API}/chat", chat_request, content_type="application/json")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["bubbles"] and "3-4 hari" in body["text"]
    other = client.post(f"{API}/chat", {**chat_request, "tenant_id": "toko-lain"}, content_type="application/json")
    assert other.status_code == 403


def test_seed_001_followup_schedule_and_pending(toko):
    client, _ = toko
    channel = client.post(
        f"{API}/channels",
        {"kind": "telegram", "name": "Bot", "secrets": {"bot_token": TELEGRAM_TOKEN}},
        content_type="application/json",
    )
    assert channel.status_code == 201, channel.content
    scheduled = client.post(
        f"{API}/followup/schedule",
        {
            "user_id": "5550001",
            "channel_id": channel.json()["id"],
            "text": "Kak, paketnya sudah sampai?",
            "due_at": (timezone.now() + dt.timedelta(hours=2)).isoformat(),
        },
        content_type="application/json",
    )
    assert scheduled.status_code == 201, scheduled.content
    pending = client.get(f"{API}/followup/pending")
    assert pending.status_code == 200
    assert [f["id"] for f in pending.json()["results"]] == [scheduled.json()["id"]]


def test_seed_001_health():
    resp = Client().get("/health")
    assert resp.status_code == 200 and resp.json()["status"] == "ok"


def test_seed_001_a_key_without_the_tenant_header_and_a_wrong_one(toko):
    _, key = toko
    assert _seed_client(key).get(f"{API}/followup/pending").status_code == 200
    assert _seed_client(key, "toko-lain").get(f"{API}/followup/pending").status_code == 403
    assert Client().get(f"{API}/followup/pending").status_code == 401


# --- seed 002: health checks and rate limiting ---------------------------------------------


def test_seed_002_health_checks_and_rate_limiting(toko):
    client, _ = toko
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/readyz").status_code in (200, 503)  # 503 until a cluster has beaten
    Tenant.objects.filter(pk="toko-budi").update(rate_limit_per_minute=2)
    statuses = [client.get(f"{API}/followup/pending").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    limited = client.get(f"{API}/followup/pending")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0


# --- seed 003: the background job table ----------------------------------------------------


def test_seed_003_a_job_answers_202_with_its_id_and_its_status_is_a_database_row(toko):
    from jobs.models import Job
    from jobs.seed import load_catalog
    from jobs.services import job_run

    load_catalog()
    client, _ = toko
    resp = client.post(f"{API}/background/generate_text", {"prompt": "Halo"}, content_type="application/json")
    assert resp.status_code == 202
    job = Job.objects.get(pk=resp.json()["task_id"])
    assert job.tenant_id == "toko-budi" and job.status == "QUEUED"
    job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == "SUCCEEDED" and job.result
    assert client.get(f"{API}/background/tasks/{job.pk}").json()["status"] == "SUCCESS"
