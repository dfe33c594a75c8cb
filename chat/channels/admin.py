"""Admin for channels (registered from chat/admin.py): secrets hidden, last error shown,
and a "send test message" action."""

from __future__ import annotations

from django.contrib import admin, messages

from chat.channels import services
from chat.channels.base import DeliverySkipped, TransportError
from chat.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "kind", "enabled", "last_error_short", "last_error_at", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "tenant__id", "tenant__name")
    readonly_fields = (
        "id",
        "inbound_token",
        "last_error",
        "last_error_at",
        "disabled_reason",
        "created_at",
        "updated_at",
    )
    fields = (
        "tenant",
        "kind",
        "name",
        "config",
        "secrets",
        "enabled",
        "disabled_reason",
        "last_error",
        "last_error_at",
        "inbound_token",
        "id",
        "created_at",
        "updated_at",
    )
    actions = ("send_test_message",)

    @admin.display(description="last error")
    def last_error_short(self, obj: Channel) -> str:
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(description="Send test message (to config.test_recipient)")
    def send_test_message(self, request, queryset) -> None:
        for channel in queryset.select_related("tenant"):
            try:
                ids = services.channel_send_test(channel=channel)
            except (TransportError, DeliverySkipped) as exc:
                self.message_user(request, f"{channel}: failed: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"{channel}: sent ({', '.join(ids)})", level=messages.SUCCESS)
