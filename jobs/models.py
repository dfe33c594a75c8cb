"""Generation jobs: the model catalog, jobs with their event log and artifacts, and the
completion-webhook deliveries.

The Job row is the truth about a job. The queue only carries wake-ups; a runner claims a
job with a conditional update (QUEUED → RUNNING, a new ``lease_token``) and every later
write by that runner is fenced by the token, so a runner that lost its lease can never
complete a job someone else now holds.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Runner(models.TextChoices):
    INTERNAL = "internal", "Internal (task cluster)"
    EXTERNAL = "external", "External (worker fleet)"


class AIModel(models.Model):
    """A runnable model in the catalog. ``kind`` picks the handler (jobs.handlers);
    ``provider`` (optional) names an LLM/TTS provider, otherwise the tenant's is used."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=40, help_text="Handler kind, e.g. text-generation, sentiment, tts.")
    runner = models.CharField(max_length=16, choices=Runner.choices, default=Runner.INTERNAL)
    provider = models.CharField(max_length=32, blank=True, help_text="Empty: the tenant's provider.")
    default_params = models.JSONField(default=dict, blank=True)
    params_schema = models.JSONField(default=dict, blank=True, help_text="JSON Schema for input_params.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("AI model")
        verbose_name_plural = _("AI models")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class JobStatus(models.TextChoices):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class BackgroundStatus(models.TextChoices):
    """The first seed app's task states, reported by the ``background/`` aliases."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on tenant or status: (tenant, -created_at) and
    # (status, lease_expires_at) below lead with them, and every index is one more entry
    # to write on each of a job's three state changes. None on model either: only the
    # admin's model filter and deleting a model (refused while it has jobs) look jobs up
    # by model alone.
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="jobs", db_index=False)
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="jobs", db_index=False)
    prompt = models.TextField(blank=True)
    input_params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress_percent = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True, editable=False)
    webhook_url = models.URLField(max_length=1000, blank=True)

    # Runner bookkeeping.
    lease_token = models.CharField(max_length=64, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=200, blank=True)
    available_at = models.DateTimeField(null=True, blank=True, help_text="Not run before (retry backoff).")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Last wake-up sent to the cluster.")
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("job")
        verbose_name_plural = _("jobs")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="jobs_job_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            # A tenant's active jobs, counted at each claim and submission for its limit of
            # concurrent jobs; finished jobs leave it, so it stays small.
            models.Index(
                fields=["tenant", "status"],
                condition=Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]),
                name="jobs_job_active_by_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}:{self.pk} {self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobEvent(models.Model):
    """Append-only: every status transition and progress report of a job."""

    class Kind(models.TextChoices):
        STATUS = "status"
        PROGRESS = "progress"
        LOG = "log"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, blank=True)
    progress_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Read through the job (its index on job_id), never by time across jobs: no index.
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.status or self.progress_percent or ''} {self.message[:40]}"


class Artifact(models.Model):
    class Kind(models.TextChoices):
        INPUT = "input"
        OUTPUT = "output"
        PREVIEW = "preview"
        LOG = "log"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=500)
    filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="jobs_artifact_unique_key")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}"


class WebhookDelivery(models.Model):
    """One completion notification to a job's webhook URL, retried with backoff. The
    ``id`` is the Standard Webhooks ``webhook-id``: the same on every retry."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
    url = models.URLField(max_length=1000)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"
