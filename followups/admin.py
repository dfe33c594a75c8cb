"""Admin for follow-ups: filter by status and due time; cancel and reschedule."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from followups import services
from followups.models import FollowUp
from siganteng.errors import Conflict
from tenants.admin_scoping import ALL_ROLES, TenantScopedAdmin


class RescheduleForm(forms.Form):
    due_at = forms.DateTimeField(help_text="In UTC, e.g. 2026-11-23 02:00 (09:00 in Jakarta).")


@admin.register(FollowUp)
class FollowUpAdmin(TenantScopedAdmin):
    view_roles = ALL_ROLES
    edit_roles = ALL_ROLES

    list_display = ("id", "tenant", "user_id", "status", "reason", "due_at", "attempts", "needs_review", "sent_at")
    list_filter = ("status", "needs_review", ("due_at", admin.DateFieldListFilter), "tenant")
    date_hierarchy = "due_at"
    search_fields = ("id", "user_id", "tenant__id", "idempotency_key")
    list_select_related = ("tenant",)
    readonly_fields = [f.name for f in FollowUp._meta.fields]
    actions = ("cancel", "reschedule_now", "reschedule_in_one_hour", "reschedule_to")

    def has_add_permission(self, request) -> bool:
        return False  # scheduled through the API, so working hours and checks apply

    @admin.action(description="Cancel the selected follow-ups")
    def cancel(self, request, queryset) -> None:
        done = 0
        for followup in queryset:
            try:
                services.followup_cancel(followup=followup, reason="canceled_by_staff")
                done += 1
            except Conflict as exc:
                self.message_user(request, f"{followup.pk}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"Canceled {done} follow-up(s).")

    def _reschedule(self, request, queryset, due_at: dt.datetime) -> None:
        done = 0
        for followup in queryset.select_related("tenant"):
            try:
                services.followup_reschedule(followup=followup, due_at=due_at)
                done += 1
            except Conflict as exc:
                self.message_user(request, f"{followup.pk}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"Rescheduled {done} follow-up(s).")

    @admin.action(description="Reschedule: send now (or at the next opening)")
    def reschedule_now(self, request, queryset) -> None:
        self._reschedule(request, queryset, timezone.now())

    @admin.action(description="Reschedule: in one hour (or the next opening after)")
    def reschedule_in_one_hour(self, request, queryset) -> None:
        self._reschedule(request, queryset, timezone.now() + dt.timedelta(hours=1))

    @admin.action(description="Reschedule to a chosen time…")
    def reschedule_to(self, request, queryset):
        form = RescheduleForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "form": form,
                "queryset": queryset,
                "title": "Reschedule follow-ups",
            }
            return TemplateResponse(request, "admin/followups/reschedule.html", context)
        due_at = form.cleaned_data["due_at"]
        if timezone.is_naive(due_at):
            due_at = timezone.make_aware(due_at, dt.UTC)
        self._reschedule(request, queryset, due_at)
        return None
