"""Follow-ups: messages the agent sends later, through a channel, exactly once."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chat.models import Channel, Conversation, Message
from tenants.models import Tenant


class FollowUp(models.Model):
    """One scheduled message. The row is the truth; the queue only carries wake-ups.

    Life cycle: SCHEDULED → (claimed by the dispatcher) SENDING → SENT, or back to
    SCHEDULED with a later ``run_at`` after a transient error, or FAILED / SKIPPED with a
    ``reason``; CANCELED by the API, staff or a customer reply (``cancel_on_reply``: the
    conversation's ``last_customer_message_at`` is later than ``scheduled_at``).
    ``request_started_at`` is written just before the first request of an attempt leaves:
    a SENDING row past its lease with it set may have been delivered, so it is FAILED with
    ``outcome_unknown`` and ``needs_review`` for staff instead of being sent again.
    """

    class Status(models.TextChoices):
        SCHEDULED = "SCHEDULED"
        SENDING = "SENDING"
        SENT = "SENT"
        FAILED = "FAILED"
        CANCELED = "CANCELED"
        SKIPPED = "SKIPPED"

    PENDING = (Status.SCHEDULED, Status.SENDING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="followups")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="followups")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="followups")
    user_id = models.CharField(max_length=200, help_text="The recipient's id on the channel.")

    requested_due_at = models.DateTimeField(help_text="The due time the caller asked for.")
    due_at = models.DateTimeField(help_text="When it goes out (moved into working hours when asked).")
    run_at = models.DateTimeField(help_text="The next attempt: due_at, later after a transient error.")
    text = models.TextField(blank=True, help_text="Fixed text to send.")
    prompt = models.TextField(blank=True, help_text="An instruction the LLM turns into a message at send time.")
    respect_working_hours = models.BooleanField(default=True)
    cancel_on_reply = models.BooleanField(default=True)
    scheduled_at = models.DateTimeField(
        default=timezone.now,
        help_text="When it was scheduled or last rescheduled: a customer message after it cancels "
        "a cancel_on_reply follow-up.",
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it failed, was skipped or canceled.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    last_error = models.TextField(blank=True)
    needs_review = models.BooleanField(default=False, help_text="Outcome unknown: staff must check.")

    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    request_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    bubbles = models.JSONField(default=list, blank=True, help_text="The message as delivered, in bubbles.")
    provider_message_ids = models.JSONField(default=list, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="uniq_followup_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "run_at"], name="followup_due"),
            models.Index(fields=["tenant", "status", "due_at"], name="followup_tenant_status"),
            models.Index(fields=["conversation", "status"], name="followup_conversation"),
        ]

    def __str__(self) -> str:
        return f"follow-up {self.pk} ({self.status})"
