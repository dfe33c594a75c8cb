"""``/metrics``: the bearer token, and counters that move with real requests and tasks,
read back through Prometheus' own text parser."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from siganteng import metrics

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789"


class Scrape:
    """One parsed scrape: ``value(name, **labels)`` adds up the samples of ``name`` whose
    labels include ``labels`` (0 when there is none)."""

    def __init__(self, text: str):
        self.text = text
        self.samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            s.value for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


def _chat(text: str) -> dict:
    return {"user_id": "u1", "messages": [{"role": "user", "content": text}]}


def scrape_text(client: Client | None = None) -> str:
    resp = (client or Client()).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/plain")
    return resp.content.decode()


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = TOKEN
    return lambda: Scrape(scrape_text())


def test_it_answers_only_with_the_bearer_token(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404  # off without a token
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_it_counts_requests_by_route_name_never_by_raw_path(scrape, client_a):
    before = scrape()
    for _ in range(3):
        assert Client().get("/healthz").status_code == 200
    missing = "00000000-0000-4000-8000-000000000abc"
    assert client_a.get(f"/api/v1/conversations/{missing}").status_code == 404
    Client().get("/no/such/page/secret-looking-token-xyz")
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("siganteng_http_requests_total", route="healthz", method="GET", status="200") == 3
    assert moved("siganteng_http_request_duration_seconds_count", route="healthz", method="GET") == 3
    assert moved("siganteng_http_request_duration_seconds_bucket", route="healthz", method="GET", le="+Inf") == 3
    assert moved("siganteng_http_requests_total", route="conversation-detail", status="404") == 1
    assert moved("siganteng_http_requests_total", route="unmatched", status="404") == 1
    routes = after.label_values("siganteng_http_requests_total", "route")
    assert not any(missing in r or "secret-looking" in r for r in routes)
    # No tenant label unless the operator turns it on.
    assert "tenant" not in {k for s in after.samples if s.name == "siganteng_http_requests_total" for k in s.labels}


def test_it_counts_a_chat_reply_its_llm_call_and_its_retrieval(scrape, client_a, tenant):
    before = scrape()
    resp = client_a.post("/api/v1/chat", _chat("How long is shipping?"), format="json")
    assert resp.status_code == 200, resp.content
    after = scrape()
    assert (
        after.value("siganteng_chat_replies_total", provider="extractive", outcome="answered")
        - before.value("siganteng_chat_replies_total", provider="extractive", outcome="answered")
        == 1
    )
    assert (
        after.value("siganteng_llm_request_duration_seconds_count", provider="extractive", outcome="ok")
        - (before.value("siganteng_llm_request_duration_seconds_count", provider="extractive", outcome="ok"))
        == 1
    )
    assert (
        after.value("siganteng_retrieval_duration_seconds_count")
        - before.value("siganteng_retrieval_duration_seconds_count")
        == 1
    )
    assert (
        after.value("siganteng_http_requests_total", route="chat", method="POST", status="200")
        - before.value("siganteng_http_requests_total", route="chat", method="POST", status="200")
        == 1
    )


def test_it_counts_tokens_and_cost_of_a_priced_model(scrape, make_tenant, make_client, fake_openai):
    tenant = make_tenant("priced", llm_provider="openai")
    before = scrape()
    resp = make_client(tenant).post("/api/v1/chat", _chat("hello"), format="json")
    assert resp.status_code == 200, resp.content
    after = scrape()
    body = resp.json()
    model = body["model"]
    tokens_in = after.value("siganteng_llm_tokens_total", provider="openai", model=model, direction="input")
    tokens_in -= before.value("siganteng_llm_tokens_total", provider="openai", model=model, direction="input")
    assert tokens_in == body["usage"]["input_tokens"] > 0
    cost = after.value("siganteng_llm_cost_usd_total", model=model) - before.value(
        "siganteng_llm_cost_usd_total", model=model
    )
    assert cost == pytest.approx(float(body["usage"]["cost"])) and cost > 0


def test_it_counts_a_refusal_over_budget(scrape, make_tenant, make_client):
    tenant = make_tenant("broke", monthly_token_budget=0)
    before = scrape()
    resp = make_client(tenant).post("/api/v1/chat", _chat("hello"), format="json")
    assert resp.status_code == 402
    after = scrape()
    assert (
        after.value("siganteng_chat_replies_total", outcome="budget_exceeded")
        - before.value("siganteng_chat_replies_total", outcome="budget_exceeded")
        == 1
    )


def test_it_reads_queued_jobs_and_the_oldest_ones_age_from_the_database(scrape, tenant):
    from jobs import services, tasks
    from jobs.models import Job
    from jobs.seed import load_catalog

    load_catalog()
    job = services.job_submit(tenant=tenant, model_slug="echo", prompt="hi")[0]
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    first = scrape()
    assert first.value("siganteng_jobs", model="echo", status="QUEUED") == 1
    assert 290 < first.value("siganteng_jobs_oldest_queued_age_seconds") < 3600

    assert tasks.run_job(str(job.pk)) == "SUCCEEDED"
    second = scrape()
    assert second.value("siganteng_jobs", model="echo", status="QUEUED") == 0
    assert second.value("siganteng_jobs_oldest_queued_age_seconds") == 0
    assert (
        second.value("siganteng_job_runs_total", status="SUCCEEDED")
        - first.value("siganteng_job_runs_total", status="SUCCEEDED")
        == 1
    )


def test_it_counts_reconciler_recoveries(scrape, tenant):
    from jobs import services, tasks
    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog

    load_catalog()
    job = services.job_submit(tenant=tenant, model_slug="echo", prompt="hi")[0]
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, lease_token="t", lease_expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    before = scrape()
    counts = tasks.reconcile_jobs()
    assert counts["requeued"] == 1
    after = scrape()
    assert (
        after.value("siganteng_reconciler_recoveries_total", reconciler="jobs", action="requeued")
        - before.value("siganteng_reconciler_recoveries_total", reconciler="jobs", action="requeued")
        == 1
    )


def test_the_handoff_and_feedback_helpers_show_in_the_scrape(scrape):
    before = scrape()
    metrics.handoff(reason="asked_for_human", tenant_id="acme")
    metrics.feedback(channel="api", value="down", tenant_id="acme")
    after = scrape()
    assert (
        after.value("siganteng_handoffs_total", reason="asked_for_human")
        - before.value("siganteng_handoffs_total", reason="asked_for_human")
        == 1
    )
    assert (
        after.value("siganteng_feedback_total", channel="api", value="down")
        - before.value("siganteng_feedback_total", channel="api", value="down")
        == 1
    )


def test_the_tenant_label_appears_only_when_the_operator_turns_it_on(tmp_path):
    import json
    import subprocess
    import sys

    from siganteng.testing import BASE_DIR, subprocess_env

    script = (
        "import json, django; django.setup()\n"
        "from siganteng import metrics\n"
        "watched = (metrics.HTTP_REQUESTS, metrics.HTTP_DURATION, metrics.FEEDBACK)\n"
        "print(json.dumps([list(m._labelnames) for m in watched]))\n"
    )
    for flag, tenant_on_counters in (("true", True), ("false", False)):
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=BASE_DIR,
            env=subprocess_env(METRICS_TENANT_LABEL=flag, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / flag)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        counters, histogram, feedback = json.loads(out.strip().splitlines()[-1])
        assert ("tenant" in counters) is tenant_on_counters and ("tenant" in feedback) is tenant_on_counters
        assert "tenant" not in histogram  # latency histograms never carry it


def test_a_customer_asking_for_a_person_counts_a_handoff_by_its_trigger(scrape, client_a, tenant):
    before = scrape()
    resp = client_a.post(
        "/api/v1/chat",
        {"user_id": "62811", "messages": [{"role": "user", "content": "mau bicara dengan admin"}]},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    after = scrape()
    assert (
        after.value("siganteng_handoffs_total", reason="customer_request")
        - before.value("siganteng_handoffs_total", reason="customer_request")
        == 1
    )


def test_the_scrape_adds_up_other_processes_files_as_prometheus_client_does(tmp_path):
    """Three processes count into one directory; the scrape's collector gives exactly the
    samples prometheus-client's own MultiProcessCollector gives (counters summed,
    histogram buckets made cumulative with their ``_count``)."""
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from siganteng.scrape import ProcessFilesCollector
    from siganteng.testing import BASE_DIR, subprocess_env

    script = (
        "import sys, django; django.setup()\n"
        "from siganteng import metrics\n"
        "n = int(sys.argv[1])\n"
        "for i in range(n):\n"
        "    metrics.http_request(route='chat', method='POST', status=200, seconds=0.03 * i, tenant_id='acme')\n"
        "    metrics.followup_lateness(seconds=40.0 * i)\n"
        "metrics.chat_reply(provider='openai', outcome='answered', tenant_id='acme')\n"
        "metrics.llm_usage(provider='openai', model='m', input_tokens=n, output_tokens=1, cost=0.5, tenant_id='acme')\n"
    )
    for n in (3, 5, 8):
        subprocess.run(
            [sys.executable, "-c", script, str(n)],
            cwd=BASE_DIR,
            env=subprocess_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_TENANT_LABEL="true"),
            check=True,
        )
    assert len(list(tmp_path.glob("*.db"))) == 6  # a counter and a histogram file per process

    ours, theirs = CollectorRegistry(), CollectorRegistry()
    ours.register(ProcessFilesCollector(tmp_path))
    MultiProcessCollector(theirs, path=str(tmp_path))
    lines = generate_latest(ours).decode().splitlines()
    assert sorted(lines) == sorted(generate_latest(theirs).decode().splitlines())
    scrape = Scrape("\n".join(lines) + "\n")
    assert scrape.value("siganteng_http_requests_total", route="chat", tenant="acme") == 16
    assert scrape.value("siganteng_http_request_duration_seconds_count", route="chat") == 16
    assert scrape.value("siganteng_http_request_duration_seconds_bucket", route="chat", le="+Inf") == 16
    assert scrape.value("siganteng_followup_lateness_seconds_bucket", le="60.0") == 6  # 0 and 40 s, thrice
    assert scrape.value("siganteng_llm_tokens_total", direction="input") == 16
    assert scrape.value("siganteng_llm_cost_usd_total") == 1.5


def test_with_metrics_off_nothing_is_counted_and_the_endpoint_is_gone(tmp_path):
    """``METRICS_ENABLED=false`` (a process started with it): requests and a chat reply
    write no metrics file, /metrics answers 404 even with the token, and the access log
    line is still written."""
    import subprocess
    import sys

    from siganteng.testing import BASE_DIR, subprocess_env

    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.test import Client\n"
        "from siganteng import metrics\n"
        "c = Client()\n"
        "assert c.get('/healthz').status_code == 200\n"
        "assert c.get('/metrics', headers={'Authorization': 'Bearer t0ken'}).status_code == 404\n"
        "metrics.chat_reply(provider='extractive', outcome='answered', tenant_id='acme')\n"
        "metrics.retrieval(seconds=0.01)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env=subprocess_env(
            METRICS_ENABLED="false",
            METRICS_TOKEN="t0ken",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
            SQLITE_PATH=str(tmp_path / "db.sqlite3"),
            DATABASE_URL="",
            ALLOWED_HOSTS="testserver",
            LOG_FORMAT="json",
            LOG_LEVEL="INFO",
        ),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    from siganteng.scrape import ProcessFilesCollector

    # (Unlabelled histograms create their file, all zeros, when they are defined.)
    counted = [s for f in ProcessFilesCollector(tmp_path / "metrics").collect() for s in f.samples if s.value]
    assert counted == []
    assert '"route": "healthz"' in out.stderr  # the access line
