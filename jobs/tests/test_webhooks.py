"""Completion webhooks, checked by a receiver that verifies the Standard Webhooks
signature itself from the published algorithm (not with our own signing module)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import WebhookDelivery
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """https://www.standardwebhooks.com/: base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")),
    key = base64-decoded part of ``whsec_...``; the header lists ``v1,<sig>`` entries."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    return any(part == f"v1,{expected}" for part in headers["webhook-signature"].split())


def _deliver_all() -> None:
    for delivery in WebhookDelivery.objects.filter(status="pending"):
        services.webhook_deliver(delivery_id=delivery.pk)


def test_it_posts_a_signed_completion_webhook(catalog, tenant, local_server, allow_private):
    received = []

    def handler(req):
        received.append(verify_standard_webhook(tenant.webhook_secret, req.headers, req.body))
        return Reply(204)

    local_server.handler = handler
    job = services.job_submit(
        tenant=tenant, model_slug="echo", prompt="done?", webhook_url=f"{local_server.url}/hooks/jobs"
    )[0]
    services.job_run(job_id=job.pk)
    _deliver_all()
    assert received == [True]
    req = local_server.requests[0]
    payload = req.json()
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == str(job.pk) and payload["data"]["result"] == {"text": "done?"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and req.headers["webhook-id"] == str(delivery.pk)
    assert delivery.attempt_log.get().status_code == 204
    # A forged body does not verify.
    assert not verify_standard_webhook(tenant.webhook_secret, req.headers, req.body + b" ")


def test_it_retries_a_failed_webhook_with_backoff_recording_every_attempt(
    catalog, tenant, local_server, allow_private, settings
):
    settings.JOBS_WEBHOOK_BACKOFF_SECONDS = 10
    replies = iter([Reply(503), Reply(500), Reply(200)])
    local_server.handler = lambda req: next(replies)
    job = services.job_submit(tenant=tenant, model_slug="echo", prompt="x", webhook_url=f"{local_server.url}/h")[0]
    services.job_run(job_id=job.pk)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    first_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 8 < first_wait <= 10
    assert services.webhook_deliver(delivery_id=delivery.pk) == "pending"  # not due yet: no request made
    assert len(local_server.requests) == 1

    later = timezone.now() + dt.timedelta(seconds=11)
    assert services.jobs_reconcile(now=later)["webhooks"] == 1
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.webhook_deliver(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert 18 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 20  # doubled
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.webhook_deliver(delivery_id=delivery.pk) == "delivered"
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [503, 500, 200]
    ids = {r.headers["webhook-id"] for r in local_server.requests}
    assert ids == {str(delivery.pk)}  # the same id on every retry, so receivers can dedupe


def test_it_refuses_private_webhook_targets_when_not_allowed(catalog, tenant, local_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    job = services.job_submit(tenant=tenant, model_slug="echo", prompt="x", webhook_url=f"{local_server.url}/h")[0]
    settings.OUTBOUND_ALLOW_PRIVATE = False
    services.job_run(job_id=job.pk)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliver(delivery_id=delivery.pk) == "failed"
    attempt = delivery.attempt_log.get()
    assert "private" in attempt.error and attempt.status_code is None
    assert local_server.requests == []


def test_it_sends_webhooks_for_failed_and_canceled_jobs(catalog, tenant, local_server, allow_private, client_a):
    local_server.handler = lambda req: Reply(200)
    job = services.job_submit(tenant=tenant, model_slug="echo", prompt="x", webhook_url=f"{local_server.url}/h")[0]
    client_a.post(f"/api/v1/jobs/{job.pk}/cancel")
    _deliver_all()
    assert [json.loads(r.body)["type"] for r in local_server.requests] == ["job.canceled"]
