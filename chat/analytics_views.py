"""The back-office analytics pages, for the tenant chosen in the back-office
(tenants.staff.current_tenant): the agent at a glance (/admin/analytics/) and the
knowledge gaps (/admin/analytics/gaps/)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chat import analytics, charts, gaps
from chat.models import CONVERSATION_CHANNELS
from tenants.models import Membership
from tenants.staff import current_tenant, role_for

DEFAULT_DAYS = 30


class FilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("Start"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("End"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("All channels")), *CONVERSATION_CHANNELS],
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", _("The end is before the start."))
        elif start and end and (end - start).days >= analytics.MAX_DAYS:
            self.add_error("end", _("At most %(days)s days at once.") % {"days": analytics.MAX_DAYS})
        return data


@staff_member_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    tenant = current_tenant(request)
    today = timezone.now().astimezone(dt.UTC).date()
    start, end, channel = today - dt.timedelta(days=DEFAULT_DAYS - 1), today, ""
    # The defaults fill what the query leaves out, so the form always shows the range used.
    form = FilterForm({"start": start.isoformat(), "end": end.isoformat(), **request.GET.dict()})
    if form.is_valid():
        end = form.cleaned_data["end"] or end
        start = form.cleaned_data["start"] or min(start, end)
        channel = form.cleaned_data["channel"]
    title = _("Analytics — %(tenant)s") % {"tenant": tenant.name} if tenant else _("Analytics")
    context = {**admin.site.each_context(request), "title": title, "form": form, "tenant": tenant}
    if tenant is not None and not form.errors:
        report = analytics.report(tenant=tenant, start=start, end=end, channel=channel)
        context["report"] = report
        context["first_response"] = analytics.duration(report.first_response_median_s)
        context["human_first_response"] = analytics.duration(report.human_first_response_median_s)
        human_minutes = [None if s is None else s / 60 for s in report.human_first_response_per_day]
        context["charts"] = {
            "conversations": charts.bar_chart(
                report.days,
                [
                    charts.Series(_("conversations"), report.conversations_per_day),
                    charts.Series(_("customer messages"), report.user_messages_per_day),
                    charts.Series(_("answers"), report.answers_per_day),
                ],
                title=_("Conversations and messages per day"),
            ),
            "human_first_response": charts.bar_chart(
                report.days,
                [charts.Series(_("minutes to a person's first reply"), human_minutes)],
                title=_("Median wait for a person's first reply, per day"),
            ),
            "tokens": charts.bar_chart(
                report.days,
                [charts.Series(_("tokens"), report.tokens_per_day)],
                title=_("Tokens per day"),
                limit=report.daily_token_budget,
            ),
            "cost": charts.bar_chart(
                report.days,
                [charts.Series(_("cost (USD)"), [float(c) for c in report.cost_per_day])],
                title=_("Cost per day"),
            ),
        }
    return render(request, "chat/analytics.html", context)


@staff_member_required
def gaps_page(request: HttpRequest) -> HttpResponse:
    """Knowledge gaps of the current tenant; an owner may mark one resolved (POST)."""
    tenant = current_tenant(request)
    is_owner = role_for(request.user, tenant) == Membership.OWNER
    if request.method == "POST":
        if tenant is None or not is_owner:
            raise PermissionDenied("Only an owner of the tenant can resolve a knowledge gap.")
        key = request.POST.get("key", "").strip()
        if key:
            gaps.gap_resolve(tenant=tenant, key=key, by=request.user.get_username())
            messages.success(request, f"Marked “{key}” resolved.")
        return redirect("analytics-gaps")
    title = f"Knowledge gaps — {tenant.name}" if tenant else "Knowledge gaps"
    context = {**admin.site.each_context(request), "title": title, "tenant": tenant, "is_owner": is_owner}
    if tenant is not None:
        context["gaps"] = gaps.gaps(tenant=tenant)
    return render(request, "chat/gaps.html", context)
