"""Conversations, messages, answer feedback, channels, tools and usage."""

from __future__ import annotations

import secrets
import uuid

from django.db import models

from chat.channels.registry import choices as channel_kind_choices
from tenants.models import Tenant

# One registry (chat/channels/registry.py) names the transports and feeds these choices.
CHANNEL_KINDS = tuple(channel_kind_choices())
# Where a conversation happens: the plain API, the OpenAI-compatible endpoint, or a channel kind.
CONVERSATION_CHANNELS = (("api", "API"), ("openai", "OpenAI-compatible"), *CHANNEL_KINDS)


def _inbound_token() -> str:
    return secrets.token_urlsafe(24)


class Channel(models.Model):
    """A tenant's messaging channel: where replies and follow-ups are delivered, and the
    inbound webhook its provider calls (``/channels/<kind>/<inbound_token>/``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=16, choices=CHANNEL_KINDS)
    name = models.CharField(max_length=100)
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret settings, validated per kind.")
    secrets = models.JSONField(
        default=dict, blank=True, help_text="Tokens and signing secrets; never returned by the API."
    )
    inbound_token = models.CharField(max_length=64, unique=True, default=_inbound_token, editable=False)
    enabled = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    user_id = models.CharField(max_length=200, help_text="The end customer's id on the channel.")
    channel = models.CharField(max_length=16, choices=CONVERSATION_CHANNELS, default="api")
    channel_ref = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    locale = models.CharField(max_length=16, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "user_id", "channel", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.channel}"


class Message(models.Model):
    ROLES = (("user", "User"), ("assistant", "Assistant"), ("system", "System"), ("tool", "Tool"))

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=ROLES)
    content = models.TextField()
    bubbles = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=list, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=100, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True, help_text="The channel's id for this message.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["conversation", "created_at"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class Feedback(models.Model):
    """A customer's rating of one answer: thumbs up or down, with an optional comment.

    One per answer: rating again (a changed mind, a second tap on a button) replaces the
    rating rather than adding one. ``source`` says where it came from (the API, a
    channel's buttons, the playground)."""

    class Value(models.TextChoices):
        UP = "up", "👍 up"
        DOWN = "down", "👎 down"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField("Message", on_delete=models.CASCADE, related_name="feedback")
    value = models.CharField(max_length=4, choices=Value.choices)
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=16, help_text="api, playground, or the channel kind.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.value} on {self.message_id}"


class KnowledgeGapResolution(models.Model):
    """An owner marked a knowledge gap (a group of questions with the same analysed terms)
    resolved: its questions up to ``resolved_at`` are no longer listed; a newer one
    reopens it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, help_text="The gap's analysed terms, sorted, space-separated.")
    resolved_at = models.DateTimeField()
    resolved_by = models.CharField(max_length=150)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="uniq_gap_resolution")]

    def __str__(self) -> str:
        return f"{self.key} resolved {self.resolved_at:%Y-%m-%d}"


class InboundEvent(models.Model):
    """One provider delivery of an inbound message; the unique key makes retries no-ops."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound_events")
    external_id = models.CharField(max_length=200)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, default="received")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "external_id"], name="uniq_inbound_event")]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"


class Tool(models.Model):
    """An HTTP tool the model may call through function calling."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tools")
    name = models.SlugField(max_length=64, help_text="Function name shown to the model.")
    description = models.TextField()
    parameters = models.JSONField(default=dict, help_text="JSON Schema of the arguments.")
    url = models.URLField(max_length=500)
    signing_secret = models.CharField(max_length=100, blank=True)
    timeout_seconds = models.FloatField(default=10.0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_tool_name")]

    def __str__(self) -> str:
        return self.name


class UsageDaily(models.Model):
    """Tokens and cost per tenant, day (UTC), provider and model."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_days")
    date = models.DateField()
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100, blank=True)
    requests = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "usage (daily)"
        constraints = [models.UniqueConstraint(fields=["tenant", "date", "provider", "model"], name="uniq_usage_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date} {self.provider}/{self.model}"
