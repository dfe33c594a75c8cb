"""Liveness and readiness probes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from siganteng.models import ClusterHeartbeat
from siganteng.tasks import heartbeat


def test_it_answers_healthz_without_touching_anything():
    resp = Client().get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_it_answers_seed_001s_health_as_healthz():
    resp = Client().get("/health")
    assert resp.status_code == 200 and resp.json() == Client().get("/healthz").json()
    assert Client().post("/health").status_code == 405


@pytest.mark.django_db
def test_it_is_not_ready_before_the_cluster_has_beaten():
    resp = Client().get("/readyz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"] and body["checks"]["broker"]["ok"]
    assert not body["checks"]["cluster"]["ok"] and "no heartbeat" in body["checks"]["cluster"]["error"]


@pytest.mark.django_db
def test_it_is_ready_after_a_heartbeat_and_not_when_it_is_stale():
    heartbeat()
    resp = Client().get("/readyz")
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["status"] == "ready"
    assert body["checks"]["broker"]["kind"] == ("redis" if settings.REDIS_URL else "orm")
    assert body["checks"]["cluster"]["heartbeat_age_seconds"] < 5
    ClusterHeartbeat.objects.update(beat_at=timezone.now() - dt.timedelta(minutes=10))
    stale = Client().get("/readyz")
    assert stale.status_code == 503 and "limit" in stale.json()["checks"]["cluster"]["error"]


@pytest.mark.django_db
def test_it_reports_a_broken_cache_as_unavailable(settings):
    heartbeat()
    # A cache that stores nothing (Django's setting_changed signal swaps the backend).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    resp = Client().get("/readyz")
    assert resp.status_code == 503
    assert not resp.json()["checks"]["cache"]["ok"]
