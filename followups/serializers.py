"""Follow-up API shapes."""

from __future__ import annotations

from rest_framework import serializers

from followups.models import FollowUp


class FollowUpOutputSerializer(serializers.ModelSerializer):
    conversation_id = serializers.UUIDField(read_only=True)
    channel_id = serializers.UUIDField(read_only=True)
    message_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "conversation_id",
            "channel_id",
            "user_id",
            "requested_due_at",
            "due_at",
            "text",
            "prompt",
            "respect_working_hours",
            "cancel_on_reply",
            "idempotency_key",
            "metadata",
            "status",
            "reason",
            "attempts",
            "max_attempts",
            "last_error",
            "needs_review",
            "bubbles",
            "provider_message_ids",
            "message_id",
            "sent_at",
            "created_at",
            "updated_at",
        ]


class ScheduleInputSerializer(serializers.Serializer):
    conversation_id = serializers.UUIDField(required=False, help_text="The conversation to follow up in.")
    user_id = serializers.CharField(
        required=False,
        max_length=200,
        help_text="With channel_id, instead of a conversation: the customer's id on that channel.",
    )
    channel_id = serializers.UUIDField(required=False)
    due_at = serializers.DateTimeField(required=False, help_text="When to send (ISO 8601 with offset).")
    delay_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=366 * 86400, help_text="Instead of due_at: seconds from now."
    )
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    prompt = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4000,
        help_text="An instruction the LLM turns into a message at send time.",
    )
    respect_working_hours = serializers.BooleanField(required=False, default=True)
    cancel_on_reply = serializers.BooleanField(required=False, default=True)
    idempotency_key = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, help_text="Or the Idempotency-Key header."
    )
    metadata = serializers.DictField(required=False, default=dict)

    def validate(self, attrs):
        if ("due_at" in attrs) == ("delay_seconds" in attrs):
            raise serializers.ValidationError({"due_at": ["Give due_at or delay_seconds (exactly one)."]})
        if bool(attrs["text"].strip()) == bool(attrs["prompt"].strip()):
            raise serializers.ValidationError({"text": ["Give either text or prompt (exactly one)."]})
        if "conversation_id" not in attrs and not ("user_id" in attrs and "channel_id" in attrs):
            raise serializers.ValidationError(
                {"conversation_id": ["Give conversation_id, or user_id with channel_id."]}
            )
        return attrs


class ListFilterSerializer(serializers.Serializer):
    status = serializers.CharField(required=False, help_text="Comma-separated statuses, e.g. SCHEDULED,FAILED.")
    due_after = serializers.DateTimeField(required=False)
    due_before = serializers.DateTimeField(required=False)
    conversation_id = serializers.UUIDField(required=False)

    def validate_status(self, value: str) -> list[str]:
        wanted = [s.strip().upper() for s in value.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in FollowUp.Status.values]
        if unknown:
            raise serializers.ValidationError(f"Unknown status {', '.join(unknown)}; use {', '.join(FollowUp.Status)}.")
        return wanted
