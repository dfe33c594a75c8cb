"""Completion webhooks: a job that reaches a final status notifies its ``webhook_url``
with a signed POST, recorded attempt by attempt and retried with exponential backoff."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from jobs.models import Job, WebhookAttempt, WebhookDelivery
from jobs.services.state import WEBHOOK_TASK, now
from siganteng import webhooks
from siganteng.errors import field_error
from siganteng.http import OutboundError, check_url, fetch
from siganteng.queue import enqueue


def webhook_url_check(url: str) -> None:
    """A 400 naming ``webhook_url`` if the URL can never be delivered to."""
    try:
        check_url(url)
    except OutboundError as exc:
        if exc.permanent:
            raise field_error("webhook_url", str(exc)) from None


def job_payload(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "status": job.status,
        "model": job.model.slug,
        "progress_percent": job.progress_percent,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
    }


def job_finished(*, job_id) -> None:
    """A job reached a final status: record its completion webhook, if it has one, and
    send it once the current transaction commits."""
    job = Job.objects.select_related("tenant", "model").get(pk=job_id)
    if not job.webhook_url:
        return
    event_type = f"job.{job.status.lower()}"
    delivery = WebhookDelivery.objects.create(
        job=job,
        url=job.webhook_url,
        event_type=event_type,
        payload={"type": event_type, "timestamp": now().isoformat(), "data": job_payload(job)},
        next_attempt_at=now(),
    )
    enqueue(WEBHOOK_TASK, str(delivery.pk))


def webhook_deliver(*, delivery_id) -> str:
    """Make one delivery attempt if it is due; record it; schedule the next with
    exponential backoff on a transient failure. Returns the delivery's status."""
    started = now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_related("job__tenant").filter(pk=delivery_id).first()
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery.status if delivery else "missing"
        # Claim this attempt: push next_attempt_at out so a concurrent wake-up skips it.
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=WebhookDelivery.Status.PENDING,
            attempts=delivery.attempts,
            next_attempt_at__lte=started,
        ).update(attempts=F("attempts") + 1, next_attempt_at=started + dt.timedelta(minutes=10))
        if not claimed:
            return delivery.status
    number = delivery.attempts + 1
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = webhooks.signed_headers(delivery.job.tenant.webhook_secret, str(delivery.pk), body)
    headers["Content-Type"] = "application/json"
    status_code, error, permanent = None, "", False
    try:
        result = fetch("POST", delivery.url, content=body, headers=headers, timeout=10, retries=0, max_bytes=64 * 1024)
        status_code = result.status
    except OutboundError as exc:
        status_code, error, permanent = exc.status, str(exc), exc.permanent
    elapsed = (now() - started).total_seconds() * 1000
    WebhookAttempt.objects.create(
        delivery=delivery, number=number, status_code=status_code, error=error[:2000], duration_ms=elapsed
    )
    if not error:
        status, next_at = WebhookDelivery.Status.DELIVERED, None
    elif permanent or number >= settings.JOBS_WEBHOOK_MAX_ATTEMPTS:
        status, next_at = WebhookDelivery.Status.FAILED, None
    else:
        status = WebhookDelivery.Status.PENDING
        next_at = now() + dt.timedelta(seconds=settings.JOBS_WEBHOOK_BACKOFF_SECONDS * (2 ** (number - 1)))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, next_attempt_at=next_at)
    return status
