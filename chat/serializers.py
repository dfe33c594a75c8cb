"""Serializers shared by the chat views (per-view Input/Output serializers live in views)."""

from __future__ import annotations

from rest_framework import serializers

from chat.models import CONVERSATION_CHANNELS, Conversation, ConversationState, Message, Tool, UsageDaily


class ChatMessageInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=["user", "assistant", "system"])
    content = serializers.CharField(allow_blank=True, max_length=20000, trim_whitespace=False)


class SourceSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Chunk id, as cited in the answer: [id].")
    document_id = serializers.CharField()
    external_id = serializers.CharField(allow_blank=True)
    title = serializers.CharField(allow_blank=True)
    score = serializers.FloatField()
    cited = serializers.BooleanField(help_text="Whether the answer cites this passage.")
    text = serializers.CharField(help_text="The passage's first 300 characters.")


class UsageSerializer(serializers.Serializer):
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.CharField(help_text="USD, from settings.LLM_PRICES.")
    latency_ms = serializers.IntegerField()
    label = serializers.CharField(required=False, help_text="Provider note, e.g. that the answer is quoted.")


class ReplySerializer(serializers.Serializer):
    conversation_id = serializers.UUIDField(source="conversation.pk")
    message_id = serializers.UUIDField(
        source="message.pk", allow_null=True, help_text="Empty when held: a person owns the conversation."
    )
    user_message_id = serializers.UUIDField(source="user_message.pk", allow_null=True, default=None)
    text = serializers.CharField()
    bubbles = serializers.ListField(child=serializers.CharField())
    sources = SourceSerializer(many=True)
    usage = UsageSerializer()
    provider = serializers.CharField()
    model = serializers.CharField()
    state = serializers.ChoiceField(choices=ConversationState.choices, source="conversation.state")
    held = serializers.BooleanField(
        help_text="True when no one answered: a person owns the conversation and will reply (see its messages)."
    )


class ConversationSerializer(serializers.ModelSerializer):
    channel_id = serializers.UUIDField(source="channel_ref_id", allow_null=True, read_only=True)
    assigned_to = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "user_id",
            "channel",
            "channel_id",
            "locale",
            "state",
            "assigned_to",
            "handoff_reason",
            "state_changed_at",
            "last_customer_message_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    conversation_id = serializers.UUIDField(read_only=True)
    cost = serializers.DecimalField(max_digits=14, decimal_places=8, coerce_to_string=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "role",
            "content",
            "bubbles",
            "sources",
            "provider",
            "model",
            "tokens_in",
            "tokens_out",
            "cost",
            "latency_ms",
            "external_id",
            "author_label",
            "created_at",
        ]
        read_only_fields = fields


class ToolSerializer(serializers.ModelSerializer):
    """A tool as the API shows it: the signing secret is write-only."""

    has_signing_secret = serializers.SerializerMethodField()

    class Meta:
        model = Tool
        fields = [
            "id",
            "name",
            "description",
            "parameters",
            "url",
            "timeout_seconds",
            "enabled",
            "has_signing_secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_has_signing_secret(self, obj: Tool) -> bool:
        return bool(obj.signing_secret)


class UsageDailySerializer(serializers.ModelSerializer):
    cost = serializers.DecimalField(max_digits=16, decimal_places=8, coerce_to_string=True, read_only=True)

    class Meta:
        model = UsageDaily
        fields = ["date", "provider", "model", "requests", "tokens_in", "tokens_out", "cost"]
        read_only_fields = fields


CHANNEL_CHOICES = [c for c, _ in CONVERSATION_CHANNELS]
