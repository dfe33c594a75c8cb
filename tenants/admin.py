"""Back-office for tenants and their API keys.

Working hours are edited as one readable line per weekday; a key created here (inline
or on its own page) is shown in full once, in a message; rotate and revoke are actions.
Every write goes through :mod:`tenants.services`.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from siganteng.errors import ApiError
from tenants import hours, members, services
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedInline, backoffice, is_platform
from tenants.models import SCOPES, ApiKey, AuditEntry, Membership, Tenant

# Indonesia's three zones first, then every other IANA zone.
_LOCAL_ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")


def timezone_choices() -> list[tuple[str, str]]:
    others = sorted(zoneinfo.available_timezones() - set(_LOCAL_ZONES) - {"localtime"})
    return [(name, name) for name in (*_LOCAL_ZONES, *others)]


def locale_choices(current: str = "") -> list[tuple[str, str]]:
    """The languages the agent may speak; a stored value outside the list stays selectable."""
    choices = list(settings.TENANT_LOCALES)
    if current and current not in dict(choices):
        choices.append((current, current))
    return choices


_BIG = forms.Textarea(attrs={"rows": 16, "cols": 100, "style": "font-family: monospace; width: 90%"})


class TenantAdminForm(forms.ModelForm):
    locale = forms.ChoiceField(label=_("Locale"), choices=())
    timezone = forms.ChoiceField(label=_("Timezone"), choices=())
    working_hours_text = forms.CharField(
        label=_("Working hours"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 50, "style": "font-family: monospace"}),
        help_text="One line per weekday, several ranges a day, e.g. <code>mon: 09:00-12:00, 13:00-17:00</code>. "
        "Days left out (or <code>sun: closed</code>) are closed. Times are in the tenant's timezone; "
        "a range may end at 24:00.",
    )
    holidays_text = forms.CharField(
        label=_("Holidays"),
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
        widgets = {
            "persona": _BIG,
            "sop": _BIG,
            "after_hours_message": forms.Textarea(attrs={"rows": 3}),
            "webhook_secret": forms.TextInput(attrs={"size": 60, "autocomplete": "off"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "locale" in self.fields:
            self.fields["locale"].choices = locale_choices(self.instance.locale if self.instance else "")
        if "timezone" in self.fields:
            self.fields["timezone"].choices = timezone_choices()
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


@admin.action(
    description=_("Rotate selected keys (old keys keep working for the grace period)"), permissions=["change"]
)
def rotate_keys(modeladmin, request, queryset):
    """Each rotation is recorded in the audit log by the service."""
    for api_key in queryset:
        try:
            issued = services.api_key_rotate(api_key=api_key, actor=request.user)
        except services.ApiError as exc:
            messages.error(request, f"{api_key}: {exc.detail}")
            continue
        _announce(request, issued, verb="Rotated: new")


@admin.action(description=_("Revoke selected keys now"), permissions=["change"])
def revoke_keys(modeladmin, request, queryset):
    for api_key in queryset:
        services.api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"Revoked {queryset.count()} key(s).")


rotate_keys.audited = revoke_keys.audited = True  # the services record each key


class ApiKeyInline(TenantScopedInline, admin.TabularInline):
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
class TenantAdmin(TenantScopedAdmin):
    """Owners edit their own tenant; only the platform creates or deletes tenants and
    changes its limits."""

    tenant_field = "pk"
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
        (_("Agent"), {"fields": ["persona", "sop", "after_hours_message", "max_bubbles"]}),
        (_("Working hours"), {"fields": ["working_hours_text", "holidays_text"]}),
        (
            _("Model"),
            {"fields": ["llm_provider", "llm_model", "llm_temperature", "llm_fallback_provider", "llm_fallback_model"]},
        ),
        (_("Limits"), {"fields": ["rate_limit_per_minute", "monthly_token_budget"]}),
        (_("Webhooks"), {"classes": ["collapse"], "fields": ["webhook_secret"]}),
        (_("Timestamps"), {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The slug is the primary key: changing it would orphan every row that points at it.
        fields = [*self.readonly_fields, "id"] if obj else list(self.readonly_fields)
        if not is_platform(request):
            # As over the API: a tenant's own staff may not change its limits or active flag.
            fields += list(services.PLATFORM_ONLY_FIELDS)
        return fields

    def has_add_permission(self, request) -> bool:
        return is_platform(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_platform(request) and super().has_delete_permission(request, obj)

    @admin.display(boolean=True, description=_("Open now"))
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
                    tenant=form.instance,
                    name=obj.name,
                    scopes=obj.scopes,
                    expires_at=obj.expires_at,
                    actor=request.user,
                )
                _announce(request, issued)
            else:
                obj.save(update_fields=["name", "scopes", "expires_at"])
        formset.save_m2m()


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
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
            self._audit(request, obj, "update", {name: form.cleaned_data.get(name) for name in form.changed_data})
            return
        issued = services.api_key_create(
            tenant=obj.tenant, name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at, actor=request.user
        )
        # The admin redirects to the object it saved: hand it the row the service wrote.
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.secret_hash = issued.api_key.secret_hash
        obj.created_at = issued.api_key.created_at
        obj._state.adding = False
        _announce(request, issued)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.ROLES, initial=Membership.AGENT)


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    """The tenant's staff. New staff come in by invitation ("add" opens the invite form);
    owners change roles and remove members, never the tenant's last owner."""

    form = MembershipForm
    list_display = ["user", "email", "role", "tenant", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["user", "tenant", "created_at"]
    fields = ["user", "tenant", "role", "created_at"]

    @admin.display(description=_("email"))
    def email(self, obj: Membership) -> str:
        return obj.user.email

    def get_urls(self):
        return [
            path("invite/", self.admin_site.admin_view(self.invite_view), name="tenants_membership_invite"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:tenants_membership_invite"))

    def invite_view(self, request: HttpRequest):
        """Invite someone to the current tenant by email."""
        tenant, _role = backoffice(request)
        if tenant is None or not self.has_add_permission(request):
            if tenant is None and is_platform(request):
                messages.warning(request, _("Choose a tenant in the switcher first."))
                return HttpResponseRedirect(reverse("admin:tenants_membership_changelist"))
            raise PermissionDenied
        form = InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            accept_url = request.build_absolute_uri(reverse("backoffice-accept-invitation", args=["TOKEN"]))
            try:
                members.member_invite(
                    tenant=tenant,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                    accept_url=accept_url.replace("TOKEN", "{token}"),
                )
            except ApiError as exc:
                form.add_error("email" if "email" in exc.fields else None, str(exc.detail))
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
                return HttpResponseRedirect(reverse("admin:tenants_membership_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Invite staff to %(tenant)s") % {"tenant": tenant.name},
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tenants/invite.html", context)

    def save_model(self, request, obj, form, change):
        try:
            members.member_set_role(membership=obj, role=form.cleaned_data["role"], actor=request.user)
        except ApiError as exc:
            # The role is left as it was; the message says why.
            messages.error(request, str(exc.detail))

    def delete_model(self, request, obj):
        try:
            members.member_remove(membership=obj, actor=request.user)
        except ApiError as exc:
            messages.error(request, str(exc.detail))

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    """The tenant's audit log: owners read it; nobody edits or deletes it here."""

    list_display = ["created_at", "actor_label", "action", "object_type", "object_repr", "tenant"]
    list_filter = ["action", "object_type", "tenant"]
    search_fields = ["actor_label", "action", "object_repr", "object_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "tenant",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
