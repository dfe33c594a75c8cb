"""Exporting conversations and messages through the job system: a date range as CSV or
JSON lines, with progress and an expiring signed download link; only the tenant's own."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from chat import services
from chat.feedback import feedback_record
from chat.models import Conversation
from jobs import tasks
from jobs.models import Job, JobEvent
from jobs.seed import load_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _catalog(db):
    load_catalog()


def _export(client, **params) -> dict:
    resp = client.post("/api/v1/jobs/", {"model": "conversation-export", "input_params": params}, format="json")
    assert resp.status_code in (200, 201, 202), resp.content
    job_id = resp.json()["id"]
    tasks.run_job(job_id)  # what the task cluster does with the wake-up
    return client.get(f"/api/v1/jobs/{job_id}").json()


def _download(client, job_id: str) -> str:
    link = client.get(f"/api/v1/jobs/{job_id}/download").json()
    assert dt.datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00")) > timezone.now()
    resp = Client().get(urlsplit(link["url"]).path)
    assert resp.status_code == 200
    return b"".join(resp.streaming_content).decode()


def test_it_exports_the_tenants_conversations_of_a_range_as_csv(client_a, client_b, tenant, other_tenant):
    first = services.reply(tenant=tenant, user_id="6281234567890", channel="whatsapp", text="Hello, shipping?")
    feedback_record(tenant=tenant, message=first.message, value="down", comment="slow", source="api")
    second = services.reply(tenant=tenant, user_id="c2", channel="api", text="Returns?")
    old = services.reply(tenant=tenant, user_id="c3", channel="api", text="Last year?")
    Conversation.objects.filter(pk=old.conversation.pk).update(created_at=timezone.now() - dt.timedelta(days=400))
    services.reply(tenant=other_tenant, user_id="x", channel="api", text="Globex secret question")

    today = timezone.now().date()
    job = _export(client_a, start=str(today - dt.timedelta(days=7)), end=str(today))
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["conversations"] == 2 and job["result"]["messages"] == 4
    assert JobEvent.objects.filter(job_id=job["id"], kind="progress").exists()
    rows = list(csv.DictReader(io.StringIO(_download(client_a, job["id"]))))
    assert len(rows) == 4
    assert {r["conversation_id"] for r in rows} == {str(first.conversation.pk), str(second.conversation.pk)}
    rated = next(r for r in rows if r["message_id"] == str(first.message.pk))
    assert (rated["rating"], rated["rating_comment"], rated["role"]) == ("down", "slow", "assistant")
    assert not any("Globex" in r["content"] or "Last year" in r["content"] for r in rows)
    # Another tenant cannot see the job or its file.
    assert client_b.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert client_b.get(f"/api/v1/jobs/{job['id']}/download").status_code == 404


def test_it_exports_json_lines_for_one_channel(client_a, tenant):
    services.reply(tenant=tenant, user_id="w", channel="whatsapp", text="Hi on WhatsApp")
    services.reply(tenant=tenant, user_id="a", channel="api", text="Hi on the API")
    today = str(timezone.now().date())
    job = _export(client_a, start=today, end=today, format="jsonl", channel="whatsapp")
    lines = [json.loads(line) for line in _download(client_a, job["id"]).splitlines()]
    assert [line["role"] for line in lines] == ["user", "assistant"]
    assert {line["channel"] for line in lines} == {"whatsapp"}


@pytest.mark.parametrize(
    "params",
    [{"start": "2026-13-01", "end": "2026-12-01"}, {"start": "2026-12-02", "end": "2026-12-01"}],
)
def test_a_bad_range_fails_the_job_with_a_readable_error(client_a, params):
    job = _export(client_a, **params)
    assert job["status"] == "FAILED" and "input_params." in Job.objects.get(pk=job["id"]).error


def test_bad_params_are_refused_at_submission(client_a):
    resp = client_a.post(
        "/api/v1/jobs/", {"model": "conversation-export", "input_params": {"start": "yesterday"}}, format="json"
    )
    assert resp.status_code == 400 and not Job.objects.exists()
