"""Serializers for the tenant settings and key management API.

Input serializers check types and shapes (naming each bad field); the services own the
rules (who may change what) and write the rows.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from siganteng.ai.registry import llm_choices
from tenants import hours, keys
from tenants.models import SCOPES, ApiKey, Tenant


class WorkingHoursField(serializers.JSONField):
    """``{"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}``, validated and normalised."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return hours.validate_working_hours(value)
        except hours.HoursError as exc:
            raise serializers.ValidationError(str(exc)) from None


class HolidaysField(serializers.JSONField):
    """``["2026-12-25", ...]`` — dates on which the business is closed."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return hours.validate_holidays(value)
        except hours.HoursError as exc:
            raise serializers.ValidationError(str(exc)) from None


class TimezoneField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            hours.validate_timezone(value)
        except hours.HoursError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class TenantSettingsInputSerializer(serializers.Serializer):
    """Every field is optional on update; ``name`` is required when creating."""

    name = serializers.CharField(max_length=200, required=False)
    persona = serializers.CharField(required=False, allow_blank=True)
    sop = serializers.CharField(required=False, allow_blank=True)
    locale = serializers.CharField(max_length=16, required=False)
    timezone = TimezoneField(max_length=64, required=False)
    working_hours = WorkingHoursField(required=False)
    holidays = HolidaysField(required=False)
    after_hours_message = serializers.CharField(required=False, allow_blank=True)
    llm_provider = serializers.ChoiceField(choices=llm_choices(), required=False)
    llm_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    llm_temperature = serializers.FloatField(min_value=0.0, max_value=2.0, required=False)
    llm_fallback_provider = serializers.ChoiceField(choices=llm_choices(), required=False, allow_blank=True)
    llm_fallback_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    max_bubbles = serializers.IntegerField(min_value=1, max_value=20, required=False)
    rate_limit_per_minute = serializers.IntegerField(min_value=1, required=False, help_text="Platform only.")
    monthly_token_budget = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, help_text="Platform only. Null means unlimited."
    )
    is_active = serializers.BooleanField(required=False, help_text="Platform only.")
    api_key = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        write_only=True,
        help_text=(
            "Empty or null: issue a new random key (every scope), returned once in `api_key.key`. "
            f"A key of {keys.IMPORTED_MIN_LENGTH} to {keys.IMPORTED_MAX_LENGTH} printable characters without "
            "spaces: make it a key of this tenant (stored hashed), e.g. to keep existing clients working."
        ),
    )

    def validate_api_key(self, value: str | None) -> str:
        if not value:
            return ""
        if len(value) < keys.IMPORTED_MIN_LENGTH:
            raise serializers.ValidationError(
                f"Must be empty (a key is generated) or at least {keys.IMPORTED_MIN_LENGTH} characters."
            )
        if keys.lookup(value) is None:
            raise serializers.ValidationError(
                f"At most {keys.IMPORTED_MAX_LENGTH} printable characters, without spaces."
            )
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class TenantSettingsOutputSerializer(serializers.Serializer):
    """Declared field by field rather than as a ModelSerializer: building a
    ModelSerializer's fields from the model on every request was a large share of this
    endpoint's time (bench/api.py)."""

    id = serializers.CharField()
    name = serializers.CharField()
    persona = serializers.CharField()
    sop = serializers.CharField()
    locale = serializers.CharField()
    timezone = serializers.CharField()
    working_hours = serializers.JSONField()
    holidays = serializers.JSONField()
    after_hours_message = serializers.CharField()
    llm_provider = serializers.ChoiceField(choices=llm_choices())
    llm_model = serializers.CharField()
    llm_temperature = serializers.FloatField()
    llm_fallback_provider = serializers.ChoiceField(choices=llm_choices(), allow_blank=True)
    llm_fallback_model = serializers.CharField()
    max_bubbles = serializers.IntegerField()
    rate_limit_per_minute = serializers.IntegerField()
    monthly_token_budget = serializers.IntegerField(allow_null=True)
    is_active = serializers.BooleanField()
    webhook_secret = serializers.CharField(help_text="Signs this tenant's outbound webhooks (Standard Webhooks).")
    is_open_now = serializers.SerializerMethodField()
    next_opening = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_is_open_now(self, obj: Tenant) -> bool:
        return obj.is_open()

    def get_next_opening(self, obj: Tenant) -> str | None:
        """When a closed business opens next; null while it is open (the answer would be
        "now", a value that changes on every read) and when it has no opening hours."""
        now = timezone.now()
        if obj.is_open(now):
            return None
        nxt = obj.next_opening(now)
        return nxt.isoformat() if nxt else None


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    """A key as lists show it: never the secret, only the public prefix."""

    status = serializers.CharField(read_only=True)
    rotated_to = serializers.IntegerField(source="rotated_to_id", allow_null=True, read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "status",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "rotated_to",
            "created_at",
        ]


class IssuedKeySerializer(ApiKeyOutputSerializer):
    """A key just created: ``key`` is the full secret, shown this once."""

    key = serializers.CharField(read_only=True, help_text="The full key. Store it now; it is never shown again.")

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = [*ApiKeyOutputSerializer.Meta.fields, "key"]


class TenantWriteOutputSerializer(TenantSettingsOutputSerializer):
    api_key = IssuedKeySerializer(
        allow_null=True,
        read_only=True,
        help_text="Set only when this request issued a key: the tenant's first one, or the one `api_key` asked for.",
    )


class ApiKeyCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPES),
        min_length=1,
        required=False,
        help_text="Default: chat, knowledge, jobs, followups.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class ApiKeyRotateOutputSerializer(serializers.Serializer):
    new_key = IssuedKeySerializer()
    old_key = ApiKeyOutputSerializer()
