"""Back-office for tenants and their API keys.

Working hours are edited as one readable line per weekday; a key created here (inline
or on its own page) is shown in full once, in a message; rotate and revoke are actions.
Every write goes through :mod:`tenants.services`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest
from django.utils.html import format_html

from tenants import hours, services
from tenants.models import SCOPES, ApiKey, Tenant

_BIG = forms.Textarea(attrs={"rows": 16, "cols": 100, "style": "font-family: monospace; width: 90%"})


class TenantAdminForm(forms.ModelForm):
    working_hours_text = forms.CharField(
        label="Working hours",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 50, "style": "font-family: monospace"}),
        help_text="One line per weekday, several ranges a day, e.g. <code>mon: 09:00-12:00, 13:00-17:00</code>. "
        "Days left out (or <code>sun: closed</code>) are closed. Times are in the tenant's timezone; "
        "a range may end at 24:00.",
    )
    holidays_text = forms.CharField(
        label="Holidays",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50, "style": "font-family: monospace"}),
        help_text="Closed dates, one per line or comma separated: <code>2026-12-25</code>.",
    )

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "is_active",
            "locale",
            "timezone",
            "persona",
            "sop",
            "after_hours_message",
            "max_bubbles",
            "llm_provider",
            "llm_model",
            "llm_temperature",
            "llm_fallback_provider",
            "llm_fallback_model",
            "rate_limit_per_minute",
            "monthly_token_budget",
            "webhook_secret",
        ]
        widgets = {"persona": _BIG, "sop": _BIG, "after_hours_message": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["working_hours_text"].initial = hours.hours_to_text(self.instance.working_hours or {})
            self.fields["holidays_text"].initial = "\n".join(self.instance.holidays or [])
        else:
            self.fields["working_hours_text"].initial = "\n".join(f"{day}: 09:00-17:00" for day in hours.WEEKDAYS[:5])

    def clean_working_hours_text(self) -> dict:
        try:
            return hours.hours_from_text(self.cleaned_data["working_hours_text"])
        except hours.HoursError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_holidays_text(self) -> list[str]:
        try:
            return hours.holidays_from_text(self.cleaned_data["holidays_text"])
        except hours.HoursError as exc:
            raise forms.ValidationError(str(exc)) from None

    def _post_clean(self):
        # Put the parsed values on the instance before the model's own validation runs.
        if "working_hours_text" in self.cleaned_data:
            self.instance.working_hours = self.cleaned_data["working_hours_text"]
        if "holidays_text" in self.cleaned_data:
            self.instance.holidays = self.cleaned_data["holidays_text"]
        super()._post_clean()


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="'admin' implies every scope.",
    )

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes", "expires_at"]


def _announce(request: HttpRequest, issued: services.IssuedKey, verb: str = "Created") -> None:
    messages.success(
        request,
        format_html(
            "{} API key “{}” for {}: <code>{}</code> — copy it now, it is shown only once.",
            verb,
            issued.api_key.name,
            issued.api_key.tenant_id,
            issued.full_key,
        ),
    )


@admin.action(description="Rotate selected keys (old keys keep working for the grace period)")
def rotate_keys(modeladmin, request, queryset):
    for api_key in queryset:
        try:
            issued = services.api_key_rotate(api_key=api_key)
        except services.ApiError as exc:
            messages.error(request, f"{api_key}: {exc.detail}")
            continue
        _announce(request, issued, verb="Rotated: new")


@admin.action(description="Revoke selected keys now")
def revoke_keys(modeladmin, request, queryset):
    for api_key in queryset:
        services.api_key_revoke(api_key=api_key)
    messages.success(request, f"Revoked {queryset.count()} key(s).")


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    form = ApiKeyForm
    fk_name = "tenant"
    extra = 0
    # Keys are revoked (an action), not deleted: the row keeps the audit trail.
    can_delete = False
    fields = ["name", "scopes", "expires_at", "prefix", "status", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "status", "last_used_at", "revoked_at"]
    show_change_link = True


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    inlines = [ApiKeyInline]
    list_display = [
        "id",
        "name",
        "locale",
        "timezone",
        "llm_provider",
        "rate_limit_per_minute",
        "is_active",
        "open_now",
    ]
    list_filter = ["is_active", "llm_provider", "locale"]
    search_fields = ["id", "name"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "is_active", "locale", "timezone"]}),
        ("Agent", {"fields": ["persona", "sop", "after_hours_message", "max_bubbles"]}),
        ("Working hours", {"fields": ["working_hours_text", "holidays_text"]}),
        (
            "Model",
            {"fields": ["llm_provider", "llm_model", "llm_temperature", "llm_fallback_provider", "llm_fallback_model"]},
        ),
        ("Limits", {"fields": ["rate_limit_per_minute", "monthly_token_budget"]}),
        ("Webhooks", {"classes": ["collapse"], "fields": ["webhook_secret"]}),
        ("Timestamps", {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The slug is the primary key: changing it would orphan every row that points at it.
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    @admin.display(boolean=True, description="Open now")
    def open_now(self, obj: Tenant) -> bool:
        return obj.is_open()

    @transaction.atomic
    def save_formset(self, request, form, formset, change):
        if formset.model is not ApiKey:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            if obj.pk is None:
                issued = services.api_key_create(
                    tenant=form.instance, name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at
                )
                _announce(request, issued)
            else:
                obj.save(update_fields=["name", "scopes", "expires_at"])
        formset.save_m2m()


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "tenant", "prefix_display", "scopes", "status", "expires_at", "last_used_at", "created_at"]
    list_filter = ["tenant", "revoked_at"]
    search_fields = ["name", "prefix", "tenant__id", "tenant__name"]
    readonly_fields = ["prefix_display", "status", "last_used_at", "revoked_at", "rotated_to", "created_at"]
    actions = [rotate_keys, revoke_keys]

    @admin.display(description="Key")
    def prefix_display(self, obj: ApiKey) -> str:
        return f"sgt_{obj.prefix}_…" if obj.prefix else "(shown once when saved)"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "scopes", "expires_at"]
        return ["tenant", "name", "scopes", "expires_at", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name", "scopes", "expires_at"])
            return
        issued = services.api_key_create(tenant=obj.tenant, name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at)
        # The admin redirects to the object it saved: hand it the row the service wrote.
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.secret_hash = issued.api_key.secret_hash
        obj.created_at = issued.api_key.created_at
        obj._state.adding = False
        _announce(request, issued)
