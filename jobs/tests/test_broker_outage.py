"""A broker outage after commit: the work is recorded, the client gets its answer, the
reconciler sends the wake-up later. Never a 500 for work that was done."""

from __future__ import annotations

import logging
import socket

import pytest
import redis
from django_q.brokers.redis_broker import Redis as RedisBroker

from jobs.models import Job, JobStatus
from siganteng import queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_broker():
    """A real Redis broker client whose server is gone (nothing listens on its port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = RedisBroker(list_key="siganteng-test-dead")
    broker.connection = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    queue._local.broker = broker
    yield broker
    queue._local.broker = None


def test_a_job_submitted_while_the_broker_is_down_is_answered_201_and_kept(client_a, submit, dead_broker, caplog):
    with caplog.at_level(logging.WARNING, logger="siganteng.queue"):
        resp = submit(client_a, "echo", "halo")
    assert resp.status_code == 201, resp.content
    job = Job.objects.get(pk=resp.json()["id"])
    assert job.status == JobStatus.QUEUED
    assert any("reconciler will send it again" in r.getMessage() for r in caplog.records)
    # The dead connection is dropped, so the next wake-up opens a fresh one.
    assert getattr(queue._local, "broker", None) is None


def test_a_batch_submitted_while_the_broker_is_down_is_kept(client_a, catalog, dead_broker):
    resp = client_a.post(
        "/api/v1/jobs/batch", {"jobs": [{"model": "echo", "prompt": f"p{i}"} for i in range(3)]}, format="json"
    )
    assert resp.status_code in (200, 201), resp.content
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 3


def test_a_knowledge_upsert_while_the_broker_is_down_is_kept(client_a, dead_broker):
    resp = client_a.post(
        "/api/v1/kb/upsert", {"external_id": "a", "title": "Kirim", "body": "Dikirim tiap hari."}, format="json"
    )
    assert resp.status_code in (200, 201), resp.content
