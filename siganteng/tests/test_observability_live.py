"""The running stack (``manage.py serve``: gunicorn with two workers and the task
cluster): ``/metrics`` adds up every process's counters, one request id follows a
customer's message from the inbound webhook to the reply sent, and no API key, channel
secret or customer phone number reaches a log line."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI, dumps, telegram_update
from siganteng.testing import BASE_DIR, LocalServer, subprocess_env, wait_until
from siganteng.tests.test_metrics import Scrape

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "live-metrics-token-0123456789"
SECRET_TOKEN = "tg-secret-live-0123456789"
PHONE = 6281234567890  # a customer's number as Telegram chat id (WhatsApp ids are numbers too)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """``manage.py serve`` with two web workers on a free port; yields (base URL, log)."""
    port = _free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2", "--grace", "20"],
            cwd=BASE_DIR,
            env=subprocess_env(
                METRICS_TOKEN=TOKEN,
                PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                LOG_FORMAT="json",
                LOG_LEVEL="DEBUG",
                OUTBOUND_ALLOW_PRIVATE="true",
                Q_POLL="0.05",
                **env,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        try:
            wait_until(healthy, timeout=40, message="/healthz of the served stack")
        except AssertionError:
            raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
        yield base, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            import os

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _scrape(base: str) -> Scrape:
    resp = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    return Scrape(resp.text)


@pytest.fixture
def kb_docs():
    return [("shipping", "Shipping", "Shipping to Bali takes 3-4 days. Orders to Jakarta arrive in 1-2 days.")]


@pytest.fixture
def telegram():
    api = TelegramAPI()
    with LocalServer(api) as server:
        api.server = server
        yield api


def test_it_counts_across_web_and_cluster_processes_and_follows_one_request_id(
    tmp_path, tenant, make_key, kb, telegram
):
    from chat.channels.services import channel_create
    from jobs.models import Job
    from jobs.seed import load_catalog

    load_catalog()
    kb(tenant)
    api_key = make_key(tenant)
    channel, _ = channel_create(
        tenant=tenant,
        kind="telegram",
        name="telegram",
        config={},
        secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN},
    )
    trace = f"trace-{uuid.uuid4().hex[:12]}"

    with (
        serving(tmp_path, TELEGRAM_API_BASE=telegram.server.url) as (base, log),
        httpx.Client(base_url=base, timeout=30) as web,
    ):
        before = _scrape(base)  # the start-up's own /healthz polls are in it
        for _ in range(6):
            assert web.get("/healthz", headers={"Connection": "close"}).status_code == 200
        # A wrong key, to see it kept out of the logs too.
        assert web.get("/api/v1/jobs/", headers={"X-API-Key": api_key[:-4] + "AAAA"}).status_code == 401
        # The customer's message, with the id a proxy in front would have given it.
        resp = web.post(
            f"/channels/telegram/{channel.inbound_token}/",
            content=dumps(telegram_update(update_id=1, message_id=77, chat_id=PHONE, text="Shipping to Bali?")),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN,
                "X-Request-Id": trace,
            },
        )
        assert resp.status_code == 200 and resp.headers["X-Request-Id"] == trace
        job = web.post("/api/v1/jobs/", json={"model": "echo", "prompt": "hi"}, headers={"X-API-Key": api_key})
        assert job.status_code in (200, 201, 202), job.text
        job_id = job.json()["id"]

        wait_until(lambda: telegram.sent, timeout=60, message="the reply to reach Telegram")
        wait_until(lambda: Job.objects.filter(pk=job_id, status="SUCCEEDED").exists(), timeout=60, message="the job")
        # The reply left the cluster carrying the webhook request's id.
        sends = [r for r in telegram.server.requests if r.path.endswith("/sendMessage")]
        assert sends and all(r.headers.get("x-request-id") == trace for r in sends)

        def settled() -> Scrape | None:
            s = _scrape(base)
            return s if s.value("siganteng_channel_sends_total", kind="telegram", outcome="sent") >= 1 else None

        after = wait_until(settled, timeout=30, message="the cluster's counters")

    # Every request the two web workers answered, counted once, by route.
    healthz = {"route": "healthz", "method": "GET", "status": "200"}
    assert (
        after.value("siganteng_http_requests_total", **healthz)
        - before.value("siganteng_http_requests_total", **healthz)
        == 6
    )
    assert after.value("siganteng_http_requests_total", route="channels:inbound", method="POST", status="200") == 1
    # Counted in the cluster's worker processes, read through a web worker.
    assert after.value("siganteng_chat_replies_total", provider="extractive", outcome="answered") == 1
    assert after.value("siganteng_job_runs_total", status="SUCCEEDED") == 1
    assert after.value("siganteng_retrieval_duration_seconds_count") >= 1

    text = log.read_text(errors="replace")
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    traced = [r for r in records if r.get("request_id") == trace]
    loggers = {r["logger"] for r in traced}
    # The webhook's access line (web) and the send's line (cluster) name the same id.
    assert "siganteng.access" in loggers and "chat.channels.services" in loggers, loggers
    for secret in (api_key, api_key.split("_")[-1], BOT_TOKEN, SECRET_TOKEN, channel.inbound_token, str(PHONE)):
        assert secret not in text, f"a secret reached the logs: {secret[:6]}…"


def test_every_metric_family_moves_on_the_running_stack(tmp_path, make_tenant, make_key, kb, telegram, fake_openai):
    """``manage.py serve`` (two web workers, the task cluster, the follow-up dispatcher)
    on this run's database and broker (SQLite and the ORM broker, or PostgreSQL and
    Redis): real requests and real tasks move every family the dashboard reads, and one
    scrape of a web worker, parsed by Prometheus' own parser, shows each of them."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from chat.channels.services import channel_create
    from jobs import services as job_services
    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog
    from siganteng.queue import enqueue

    load_catalog()
    shop = make_tenant("shop")
    kb(shop)
    shop_key = make_key(shop)
    priced = make_tenant("priced", llm_provider="openai")
    priced_key = make_key(priced)
    broke_key = make_key(make_tenant("broke", monthly_token_budget=0))
    channel, _ = channel_create(
        tenant=shop,
        kind="telegram",
        name="telegram",
        config={},
        secrets={"bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN},
    )
    # Work the running cluster finds in the database: a job on an external GPU worker (it
    # stays queued: the oldest-queued gauge), and (below, once the first scrape is taken:
    # the dispatcher reconciles as soon as it starts) a job whose runner died mid-run (its
    # lease expired: the reconciler takes it back, then the cluster runs it).
    waiting = job_services.job_submit(tenant=shop, model_slug="dreamfusion-sd", prompt="a teapot")[0]
    Job.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - dt.timedelta(minutes=3))

    def customer(web: httpx.Client, update_id: int, chat_id: int, text: str) -> None:
        resp = web.post(
            f"/channels/telegram/{channel.inbound_token}/",
            content=dumps(telegram_update(update_id=update_id, message_id=update_id, chat_id=chat_id, text=text)),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN},
        )
        assert resp.status_code == 200, resp.text

    env = {
        "TELEGRAM_API_BASE": telegram.server.url,
        "OPENAI_BASE_URL": f"{fake_openai.server.url}/v1",
        "OPENAI_API_KEY": "sk-test-fake",
    }
    with serving(tmp_path, **env) as (base, log), httpx.Client(base_url=base, timeout=30) as web:
        before = _scrape(base)
        with transaction.atomic():  # its wake-up leaves on commit and finds it RUNNING: a no-op
            orphan = job_services.job_submit(tenant=shop, model_slug="echo", prompt="orphaned")[0]
            Job.objects.filter(pk=orphan.pk).update(
                status=JobStatus.RUNNING, lease_token="dead", lease_expires_at=timezone.now() - dt.timedelta(minutes=1)
            )
        # Customers on Telegram: a question the cluster answers from the knowledge base,
        # and one who asks for a person (a handoff).
        customer(web, 1, 6281100001, "How long is shipping to Bali?")
        customer(web, 2, 6281100002, "mau bicara dengan admin")
        # On the API: an answer from a priced model (tokens, cost), a refusal over budget,
        # a rating, a job the cluster runs, a follow-up due now (the dispatcher sends it).
        answer = web.post(
            "/api/v1/chat",
            json={"user_id": "u1", "messages": [{"role": "user", "content": "hello"}]},
            headers={"X-API-Key": priced_key},
        )
        assert answer.status_code == 200, answer.text
        assert (
            web.post(
                "/api/v1/chat",
                json={"user_id": "u2", "messages": [{"role": "user", "content": "hello"}]},
                headers={"X-API-Key": broke_key},
            ).status_code
            == 402
        )
        rated = web.post(
            f"/api/v1/messages/{answer.json()['message_id']}/feedback",
            json={"value": "down", "comment": "too short"},
            headers={"X-API-Key": priced_key},
        )
        assert rated.status_code in (200, 201), rated.text
        job = web.post("/api/v1/jobs/", json={"model": "echo", "prompt": "hi"}, headers={"X-API-Key": shop_key})
        assert job.status_code in (200, 201, 202), job.text
        followup = web.post(
            "/api/v1/followup/schedule",
            json={
                "user_id": "6281100003",
                "channel_id": str(channel.pk),
                "delay_seconds": 0,
                "text": "Halo Kak, paketnya sudah sampai?",
                "respect_working_hours": False,
            },
            headers={"X-API-Key": shop_key},
        )
        assert followup.status_code in (200, 201), followup.text
        enqueue("jobs.tasks.reconcile_jobs")  # what the minute schedule sends the cluster

        def settled() -> Scrape | None:
            s = _scrape(base)
            done = (
                s.value("siganteng_channel_sends_total", kind="telegram", outcome="sent") >= 3
                and s.value("siganteng_followup_deliveries_total", outcome="sent") >= 1
                and s.value("siganteng_job_runs_total", status="SUCCEEDED") >= 2
                and s.value("siganteng_handoffs_total") >= 1
                and s.value("siganteng_reconciler_recoveries_total") >= 1
            )
            return s if done else None

        try:
            after = wait_until(settled, timeout=90, interval=0.5, message="the cluster's counters")
        except AssertionError:
            raise AssertionError(log.read_text(errors="replace")[-4000:]) from None

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    # HTTP, counted by the two web workers, by route, method and status, and timed.
    assert moved("siganteng_http_requests_total", route="channels:inbound", method="POST", status="200") == 2
    assert moved("siganteng_http_requests_total", route="chat", method="POST", status="402") == 1
    assert moved("siganteng_http_request_duration_seconds_count", route="chat", method="POST") == 2
    assert moved("siganteng_http_request_duration_seconds_bucket", route="chat", method="POST", le="+Inf") == 2
    # Replies by provider and outcome, the model calls' latency, tokens and cost.
    assert moved("siganteng_chat_replies_total", provider="extractive", outcome="answered") == 1
    assert moved("siganteng_chat_replies_total", provider="openai", outcome="answered") == 1
    assert moved("siganteng_chat_replies_total", outcome="budget_exceeded") == 1
    assert moved("siganteng_llm_request_duration_seconds_count", provider="openai", outcome="ok") == 1
    assert moved("siganteng_llm_request_duration_seconds_count", provider="extractive") >= 1
    model = answer.json()["model"]
    tokens = answer.json()["usage"]
    assert (
        moved("siganteng_llm_tokens_total", provider="openai", model=model, direction="input")
        == (tokens["input_tokens"])
    )
    assert (
        moved("siganteng_llm_tokens_total", provider="openai", model=model, direction="output")
        == (tokens["output_tokens"])
    )
    assert moved("siganteng_llm_cost_usd_total", provider="openai", model=model) == pytest.approx(float(tokens["cost"]))
    assert float(tokens["cost"]) > 0
    # Retrieval (the Telegram answer searched the knowledge base in the cluster).
    assert moved("siganteng_retrieval_duration_seconds_count") >= 1
    # Jobs: the database gauges and the runs.
    assert after.value("siganteng_jobs", model="dreamfusion-sd", status="QUEUED") == 1
    assert after.value("siganteng_jobs_oldest_queued_age_seconds") >= 180
    assert moved("siganteng_job_runs_total", status="SUCCEEDED") >= 2  # the API's job and the recovered one
    assert moved("siganteng_reconciler_recoveries_total", reconciler="jobs", action="requeued") == 1
    # Follow-ups: the outcome and how late it went out.
    assert moved("siganteng_followup_deliveries_total", outcome="sent") == 1
    assert moved("siganteng_followup_lateness_seconds_count") == 1
    assert moved("siganteng_followup_lateness_seconds_bucket", le="+Inf") == 1
    # Channel sends by kind and outcome: the answer, the handoff message, the follow-up.
    assert moved("siganteng_channel_sends_total", kind="telegram", outcome="sent") == 3
    # Handoffs by reason, and the rating.
    assert moved("siganteng_handoffs_total", reason="customer_request") == 1
    assert moved("siganteng_feedback_total", channel="api", value="down") == 1
    # Nothing is left unscraped: every family the dashboard queries is in the answer.
    families = {s.name for s in after.samples}
    for name in (
        "siganteng_http_requests_total",
        "siganteng_http_request_duration_seconds_bucket",
        "siganteng_chat_replies_total",
        "siganteng_llm_request_duration_seconds_bucket",
        "siganteng_llm_tokens_total",
        "siganteng_llm_cost_usd_total",
        "siganteng_retrieval_duration_seconds_bucket",
        "siganteng_jobs",
        "siganteng_jobs_oldest_queued_age_seconds",
        "siganteng_job_runs_total",
        "siganteng_followup_deliveries_total",
        "siganteng_followup_lateness_seconds_bucket",
        "siganteng_channel_sends_total",
        "siganteng_reconciler_recoveries_total",
        "siganteng_handoffs_total",
        "siganteng_feedback_total",
    ):
        assert name in families, name
    assert Job.objects.get(pk=orphan.pk).status == JobStatus.SUCCEEDED
