"""The Grafana dashboard and Prometheus configuration kept in deploy/: every metric a
panel queries is one ``/metrics`` really exposes, and docker-compose mounts what exists."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from siganteng import metrics
from siganteng.testing import BASE_DIR
from siganteng.tests.test_metrics import Scrape, scrape_text

pytestmark = pytest.mark.django_db

DASHBOARD = BASE_DIR / "deploy" / "grafana" / "dashboards" / "siganteng.json"
_METRIC = re.compile(r"\bsiganteng_[a-z_]+\b")


def _exercise_every_metric(tenant) -> None:
    """One event of each kind, so every metric has a sample (prometheus-client's
    multiprocess mode exposes only metrics some process has touched)."""
    from jobs import services
    from jobs.seed import load_catalog

    metrics.http_request(route="healthz", method="GET", status=200, seconds=0.01, tenant_id=None)
    metrics.chat_reply(provider="extractive", outcome="answered", tenant_id=tenant.pk)
    metrics.llm_call(provider="extractive", outcome="ok", seconds=0.1)
    metrics.llm_usage(
        provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=5, cost=0.1, tenant_id=None
    )
    metrics.retrieval(seconds=0.01)
    metrics.job_run(status="SUCCEEDED")
    metrics.followup_delivery(outcome="sent")
    metrics.followup_lateness(seconds=3.0)
    metrics.channel_send(kind="telegram", outcome="sent")
    metrics.reconciled(reconciler="jobs", counts={"requeued": 1})
    metrics.handoff(reason="asked_for_human", tenant_id=tenant.pk)
    metrics.feedback(channel="api", value="up", tenant_id=tenant.pk)
    load_catalog()
    services.job_submit(tenant=tenant, model_slug="echo", prompt="hi")


def test_every_metric_the_dashboard_queries_is_exposed(settings, tenant):
    settings.METRICS_TOKEN = "dash-token"
    _exercise_every_metric(tenant)
    from django.test import Client

    resp = Client().get("/metrics", headers={"Authorization": "Bearer dash-token"})
    exposed = {s.name for s in Scrape(resp.content.decode()).samples}

    dashboard = json.loads(DASHBOARD.read_text())
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "siganteng-prometheus"
            queried |= set(_METRIC.findall(target["expr"]))
    assert queried, "the dashboard queries no metric"
    assert queried <= exposed, sorted(queried - exposed)
    # The five views are all on it.
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for needed in ("requests per second", "latency", "cost per day", "queued job", "lateness", "handoff rate"):
        assert needed in titles, needed
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_provisioning_points_at_the_dashboard_and_the_scrape_at_metrics():
    datasource = yaml.safe_load((BASE_DIR / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "siganteng-prometheus"
    prometheus = yaml.safe_load((BASE_DIR / "deploy/prometheus/prometheus.yml").read_text())
    job = prometheus["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    for service in ("prometheus", "grafana"):
        for volume in compose["services"][service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (BASE_DIR / source).exists(), source
    # Web and worker share the metrics directory, so /metrics counts the cluster too.
    assert "metrics:/app/var/metrics" in compose["services"]["web"]["volumes"]
    assert "metrics:/app/var/metrics" in compose["services"]["worker"]["volumes"]


def test_the_scrape_lists_what_the_exercise_produced(settings, tenant):
    # A guard on the helper above: a metric added to siganteng.metrics without an event in
    # _exercise_every_metric would make the dashboard test pass vacuously for it.
    settings.METRICS_TOKEN = "metrics-test-token-0123456789"
    _exercise_every_metric(tenant)
    families = {s.name for s in Scrape(scrape_text()).samples}
    for attr in vars(metrics).values():
        name = getattr(attr, "_name", None)
        if isinstance(name, str) and name.startswith("siganteng_"):
            assert any(f.startswith(name) for f in families), name
