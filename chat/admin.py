"""Admin for conversations, messages, tools and usage."""

import jsonschema
from django import forms
from django.contrib import admin
from django.db.models import Sum
from django.utils import timezone
from django.utils.html import format_html

from chat import tools, usage
from chat.channels import admin as channels_admin  # noqa: F401  (registers Channel admin)
from chat.models import Conversation, Feedback, Message, Tool, UsageDaily


def _rating(message: Message) -> str:
    """👍/👎 and the comment of the customer's rating of an answer ("" when unrated)."""
    feedback = getattr(message, "feedback", None) if message.role == "assistant" else None
    if feedback is None:
        return ""
    mark = "👍" if feedback.value == Feedback.Value.UP else "👎"
    return f"{mark} {feedback.comment} ({feedback.source})" if feedback.comment else f"{mark} ({feedback.source})"


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "role",
        "content",
        "rating",
        "provider",
        "model",
        "tokens_in",
        "tokens_out",
        "cost",
        "latency_ms",
    )
    readonly_fields = fields
    ordering = ("created_at",)
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("feedback")

    @admin.display(description="rating")
    def rating(self, obj: Message) -> str:
        return _rating(obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "tenant", "user_id", "channel", "locale", "last_customer_message_at", "updated_at")
    list_filter = ("channel", "tenant")
    search_fields = ("id", "user_id", "tenant__id")
    readonly_fields = ("id", "created_at", "updated_at", "last_customer_message_at")
    raw_id_fields = ("channel_ref",)
    inlines = [MessageInline]
    date_hierarchy = "updated_at"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "tenant",
        "conversation",
        "role",
        "short",
        "rating",
        "provider",
        "model",
        "tokens_in",
        "tokens_out",
        "cost",
        "latency_ms",
    )
    list_filter = ("role", "provider", "tenant", "feedback__value")
    search_fields = ("content", "conversation__user_id", "external_id")
    raw_id_fields = ("conversation",)
    readonly_fields = [*(f.name for f in Message._meta.fields), "rating"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("feedback")

    @admin.display(description="content")
    def short(self, obj: Message) -> str:
        return obj.content[:80]

    @admin.display(description="rating")
    def rating(self, obj: Message) -> str:
        return _rating(obj)

    def has_add_permission(self, request) -> bool:
        return False


class ToolForm(forms.ModelForm):
    """The signing secret is write-only: left blank, the stored one is kept."""

    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to keep the current secret.",
    )

    class Meta:
        model = Tool
        fields = ("tenant", "name", "description", "parameters", "url", "signing_secret", "timeout_seconds", "enabled")

    def clean_parameters(self):
        value = self.cleaned_data["parameters"]
        try:
            tools.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise forms.ValidationError(f"Not a valid JSON Schema: {exc.message}") from None
        return value

    def clean_signing_secret(self):
        value = self.cleaned_data["signing_secret"]
        return value or (self.instance.signing_secret if self.instance.pk else "")


@admin.register(Tool)
class ToolAdmin(admin.ModelAdmin):
    form = ToolForm
    list_display = ("name", "tenant", "url", "enabled", "has_secret", "updated_at")
    list_filter = ("enabled", "tenant")
    search_fields = ("name", "tenant__id", "url")

    @admin.display(boolean=True, description="signed")
    def has_secret(self, obj: Tool) -> bool:
        return bool(obj.signing_secret)


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = ("date", "tenant", "provider", "model", "requests", "tokens_in", "tokens_out", "cost", "budget_used")
    list_filter = ("provider", "tenant")
    date_hierarchy = "date"
    readonly_fields = ("tenant", "date", "provider", "model", "requests", "tokens_in", "tokens_out", "cost")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="month vs budget")
    def budget_used(self, obj: UsageDaily) -> str:
        budget = obj.tenant.monthly_token_budget
        used = usage.tokens_this_month(obj.tenant)
        if budget is None:
            return f"{used} / unlimited"
        colour = "#b00" if used >= budget else "inherit"
        return format_html('<span style="color:{}">{} / {}</span>', colour, used, budget)

    def changelist_view(self, request, extra_context=None):
        totals = UsageDaily.objects.filter(date__gte=usage.month_start(timezone.now())).aggregate(
            tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=Sum("cost")
        )
        extra_context = {
            **(extra_context or {}),
            "title": (
                f"Usage — this month: {totals['tokens_in'] or 0} in / {totals['tokens_out'] or 0} out tokens, "
                f"USD {totals['cost'] or 0}"
            ),
        }
        return super().changelist_view(request, extra_context=extra_context)
