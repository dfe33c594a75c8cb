"""Channel API shapes. Secrets are write-only: responses list which are set, never values."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from chat.channels import registry
from chat.models import Channel


class ChannelOutputSerializer(serializers.ModelSerializer):
    secrets_set = serializers.SerializerMethodField(help_text="Names of the secrets stored (values never shown).")
    inbound_url = serializers.SerializerMethodField(help_text="Give this URL to the provider as the webhook.")

    class Meta:
        model = Channel
        fields = [
            "id",
            "kind",
            "name",
            "config",
            "secrets_set",
            "inbound_url",
            "enabled",
            "last_error",
            "last_error_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]

    def get_secrets_set(self, obj: Channel) -> list[str]:
        return sorted(k for k, v in (obj.secrets or {}).items() if v)

    def get_inbound_url(self, obj: Channel) -> str:
        path = reverse("channels:inbound", kwargs={"kind": obj.kind, "token": obj.inbound_token})
        return f"{settings.PUBLIC_BASE_URL}{path}"


class ChannelCreatedSerializer(ChannelOutputSerializer):
    generated_secrets = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Secrets generated for you (Telegram secret token, WhatsApp verify token, webhook signing "
        "secret). Shown only in this response.",
    )

    class Meta(ChannelOutputSerializer.Meta):
        fields = [*ChannelOutputSerializer.Meta.fields, "generated_secrets"]


class ChannelCreateInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=registry.choices())
    name = serializers.CharField(max_length=100)
    config = serializers.DictField(required=False, default=dict)
    secrets = serializers.DictField(required=False, default=dict, write_only=True)
    enabled = serializers.BooleanField(required=False, default=True)


class ChannelUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    config = serializers.DictField(required=False, help_text="Replaces the whole configuration.")
    secrets = serializers.DictField(
        required=False, write_only=True, help_text='Merged into the stored secrets; null or "" removes a key.'
    )
    enabled = serializers.BooleanField(required=False)
