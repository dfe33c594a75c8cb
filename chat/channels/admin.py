"""Admin for channels (registered from chat/admin.py): secrets hidden, last error shown,
and a "send test message" action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from chat.channels import services
from chat.channels.base import DeliverySkipped, TransportError
from chat.models import Channel
from tenants.admin_scoping import TenantScopedAdmin


class ChannelForm(forms.ModelForm):
    """Secrets are write-only: the page names the stored ones, never shows their values.

    ``new_secrets`` is merged into the stored secrets; a key set to "" or null removes it.
    """

    new_secrets = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off"}),
        help_text='e.g. {"bot_token": "123:ABC"} — merged into the stored secrets; "" removes one. '
        "Left blank, the stored secrets are kept.",
    )

    class Meta:
        model = Channel
        fields = ("tenant", "kind", "name", "config", "enabled")

    def clean_new_secrets(self) -> dict:
        value = self.cleaned_data.get("new_secrets") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError('A JSON object: {"name": "value"}.')
        return value

    def _post_clean(self):
        merged = dict(self.instance.secrets or {})
        for key, value in (self.cleaned_data.get("new_secrets") or {}).items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = value
        self.instance.secrets = merged
        super()._post_clean()


@admin.register(Channel)
class ChannelAdmin(TenantScopedAdmin):
    form = ChannelForm
    list_display = ("name", "tenant", "kind", "enabled", "last_error_short", "last_error_at", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "tenant__id", "tenant__name")
    readonly_fields = (
        "id",
        "inbound_token",
        "secret_names",
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
        "secret_names",
        "new_secrets",
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

    @admin.display(description="secrets stored")
    def secret_names(self, obj: Channel) -> str:
        return ", ".join(sorted(k for k, v in (obj.secrets or {}).items() if v)) or "—"

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
