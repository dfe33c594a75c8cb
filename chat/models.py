"""Conversations, messages, answer feedback, channels, tools and usage."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.channels.registry import choices as channel_kind_choices
from siganteng import crypto
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
    secrets = crypto.EncryptedJSONField(
        default=dict, blank=True, help_text="Tokens and signing secrets, encrypted at rest; never returned by the API."
    )
    inbound_token = models.CharField(max_length=64, unique=True, default=_inbound_token, editable=False)
    enabled = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "kind"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ConversationState(models.TextChoices):
    """Who answers the customer: the bot, nobody yet (a person was asked for), a person."""

    BOT = "bot", _("Bot")
    NEEDS_HUMAN = "needs_human", _("Needs a human")
    HUMAN = "human", _("Human")
    CLOSED = "closed", _("Closed")


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
    # Handoff (chat/handoff.py changes these, always with a ConversationEvent).
    state = models.CharField(max_length=16, choices=ConversationState.choices, default=ConversationState.BOT)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handoff_reason = models.CharField(max_length=300, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    notify_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff are to be told of a pending handoff (the next opening)."
    )
    staff_read_at = models.DateTimeField(null=True, blank=True, help_text="Customer messages after this are unread.")
    no_answer_streak = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "user_id", "channel", "-updated_at"]),
            models.Index(fields=["tenant", "state", "-updated_at"]),
        ]

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
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member who wrote this reply (empty: the customer or the bot).",
    )
    author_label = models.CharField(max_length=200, blank=True, help_text="Who wrote a staff reply, kept if deleted.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
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


class ConversationEvent(models.Model):
    """One change of a conversation's state (who, when, why), or a message a helpdesk is
    told about. Events with a ``webhook_type`` are delivered, signed, to the tenant's
    helpdesk URL (:class:`HandoffSettings.events_url`); the row records the delivery."""

    KINDS = (
        ("handoff", "Handoff requested"),
        ("takeover", "Taken over"),
        ("assign", "Assigned"),
        ("release", "Released to the bot"),
        ("close", "Closed"),
        ("reopen", "Reopened"),
        ("notified", "Staff notified"),
        ("message", "Message"),
    )

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=KINDS)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="Staff username, 'bot', 'customer' or 'api'.")
    reason = models.CharField(max_length=300, blank=True)
    message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    webhook_type = models.CharField(max_length=40, blank=True)
    webhook_status = models.CharField(max_length=16, blank=True, help_text="pending, delivered or failed.")
    webhook_attempts = models.PositiveSmallIntegerField(default=0)
    webhook_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["webhook_status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}→{self.to_state} by {self.actor_label}"


class HandoffSettings(models.Model):
    """How a tenant hands conversations to its staff. A tenant without a row uses the
    defaults of the fields (see :func:`chat.handoff.settings_for`)."""

    REOPEN_TO = (("bot", _("The bot")), ("human", _("The person it was with")))

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="handoff_settings", primary_key=True)
    on_request = models.BooleanField(_("hand off when the customer asks for a person"), default=True)
    on_tool = models.BooleanField(_("let the model call handoff_to_human"), default=True)
    no_answer_limit = models.PositiveSmallIntegerField(
        _("hand off after this many answers in a row without the knowledge base (0: never)"), default=0
    )
    negative_sentiment = models.FloatField(
        _("hand off at a sentiment score at or below (-1 to 0; 0: never)"),
        default=0.0,
        validators=[MinValueValidator(-1.0), MaxValueValidator(0.0)],
    )
    handoff_message = models.TextField(_("message when handing off"), blank=True)
    after_hours_message = models.TextField(_("message when handing off outside working hours"), blank=True)
    reopen_to = models.CharField(_("a closed conversation reopens to"), max_length=8, choices=REOPEN_TO, default="bot")
    idle_release_minutes = models.PositiveIntegerField(
        _("give back to the bot after this many idle minutes (0: never)"), default=60
    )
    debounce_seconds = models.FloatField(
        _("quiet time before answering a burst on messaging channels (seconds, 0: none)"),
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(10.0)],
    )
    events_url = models.URLField(
        _("helpdesk webhook URL (signed conversation and message events)"), max_length=500, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("handoff settings")
        verbose_name_plural = _("handoff settings")

    def __str__(self) -> str:
        return f"handoff settings of {self.tenant_id}"


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
    signing_secret = crypto.EncryptedTextField(blank=True, help_text="Encrypted at rest.")
    timeout_seconds = models.FloatField(default=10.0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("tool")
        verbose_name_plural = _("tools")
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
        verbose_name = _("daily usage")
        verbose_name_plural = _("usage (daily)")
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["tenant", "date", "provider", "model"], name="uniq_usage_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.date} {self.provider}/{self.model}"
