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
