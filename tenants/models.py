"""Tenants (the businesses using the platform) and their API keys."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from siganteng import webhooks
from siganteng.ai.registry import llm_choices
from tenants import hours

SCOPES = ("chat", "knowledge", "jobs", "followups", "worker", "admin")
DEFAULT_SCOPES = ["chat", "knowledge", "jobs", "followups"]


def _validate_tz(value: str) -> None:
    try:
        hours.validate_timezone(value)
    except hours.HoursError as exc:
        raise ValidationError(str(exc)) from None


def _validate_hours(value: object) -> None:
    try:
        hours.validate_working_hours(value)
    except hours.HoursError as exc:
        raise ValidationError(str(exc)) from None


def _validate_holidays(value: object) -> None:
    try:
        hours.validate_holidays(value)
    except hours.HoursError as exc:
        raise ValidationError(str(exc)) from None


def _validate_scopes(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("scopes must be a non-empty list")
    unknown = [s for s in value if s not in SCOPES]
    if unknown:
        raise ValidationError(f"unknown scopes: {', '.join(map(str, unknown))}; known: {', '.join(SCOPES)}")


class Tenant(models.Model):
    """A business with its own agent, knowledge base, channels and keys."""

    id = models.SlugField(primary_key=True, max_length=50, help_text="Stable slug, e.g. 'toko-budi'.")
    name = models.CharField(max_length=200)
    persona = models.TextField(blank=True, help_text="Who the agent is and how it speaks.")
    sop = models.TextField("SOP", blank=True, help_text="Standard operating procedures the agent follows.")
    locale = models.CharField(max_length=16, default="id", help_text="BCP 47 language, e.g. 'id' or 'en'.")
    timezone = models.CharField(max_length=64, default="Asia/Jakarta", validators=[_validate_tz])
    working_hours = models.JSONField(
        default=dict,
        blank=True,
        validators=[_validate_hours],
        help_text='Per weekday, several ranges a day: {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}.',
    )
    holidays = models.JSONField(
        default=list, blank=True, validators=[_validate_holidays], help_text='Closed dates: ["2026-12-25"].'
    )
    after_hours_message = models.TextField(blank=True)

    llm_provider = models.CharField(max_length=32, choices=llm_choices(), default="extractive")
    llm_model = models.CharField(max_length=100, blank=True, help_text="Empty: the provider's default.")
    llm_temperature = models.FloatField(default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    llm_fallback_provider = models.CharField(max_length=32, choices=llm_choices(), blank=True)
    llm_fallback_model = models.CharField(max_length=100, blank=True)
    max_bubbles = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1), MaxValueValidator(20)])

    rate_limit_per_minute = models.PositiveIntegerField(default=120, validators=[MinValueValidator(1)])
    monthly_token_budget = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Tokens per calendar month (UTC); empty means unlimited."
    )
    webhook_secret = models.CharField(
        max_length=80, default=webhooks.new_secret, help_text="Signs outbound webhooks (Standard Webhooks)."
    )

    is_active = models.BooleanField(default=True)
    tools_version = models.BigIntegerField(
        default=0, editable=False, help_text="Moves whenever one of the tenant's chat tools changes."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def save(self, *args, **kwargs) -> None:
        # tools_version is only ever moved by an UPDATE of its own (chat.signals): a full
        # save of an instance read before a tool changed must not put the old value back.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "tools_version"
            ]
        super().save(*args, **kwargs)

    def is_open(self, at: dt.datetime | None = None) -> bool:
        return hours.is_open(
            at or timezone.now(), tz_name=self.timezone, hours=self.working_hours, holidays=self.holidays
        )

    def next_opening(self, after: dt.datetime | None = None) -> dt.datetime | None:
        return hours.next_opening(
            after or timezone.now(), tz_name=self.timezone, hours=self.working_hours, holidays=self.holidays
        )


class ApiKey(models.Model):
    """A tenant's API key. Only a SHA-256 hash of the secret part is stored.

    The full key reads ``sgt_<prefix>_<secret>``: ``prefix`` is the public lookup id
    (shown in lists and logs), ``secret`` is shown once when the key is created.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, validators=[_validate_scopes])
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_from", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (sgt_{self.prefix}_…)"

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class Membership(models.Model):
    """A user of the back-office working for one tenant, with a role.

    *owner*: everything of the tenant (settings, keys, channels, tools, staff, knowledge,
    follow-ups, jobs, conversations). *agent*: conversations and the inbox, follow-ups,
    knowledge read-only. Platform superusers need no membership: they see every tenant.
    """

    OWNER = "owner"
    AGENT = "agent"
    ROLES = ((OWNER, "Owner"), (AGENT, "Agent"))

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLES, default=AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_unique")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.tenant_id}"


class AuditEntry(models.Model):
    """One staff action on a tenant's objects: who, when, what, and which fields changed.

    Written only through :func:`tenants.audit.record`; never edited or deleted from the
    back-office. ``changes`` holds field names and, for non-secret fields, the old and new
    values; a secret field is recorded as changed without its value.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who acted, kept if the user is deleted.")
    action = models.CharField(max_length=64, help_text="e.g. 'tenant.update', 'api_key.revoke'.")
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"


class RateWindow(models.Model):
    """How many requests a tenant made in one minute (``window`` = Unix time // 60).

    The embedded default's shared rate-limit counter (:mod:`tenants.ratelimit`); with
    Redis configured the counters live there instead and this table stays empty.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "window"], name="ratewindow_tenant_window_unique")]

    def __str__(self) -> str:
        return f"{self.tenant_id} @ {self.window}: {self.count}"
