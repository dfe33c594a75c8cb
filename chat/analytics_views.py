"""The back-office analytics page (/admin/analytics/): one tenant's agent at a glance,
for the tenant chosen in the back-office (tenants.staff.current_tenant)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chat import analytics, charts
from chat.models import CONVERSATION_CHANNELS
from tenants.staff import current_tenant

DEFAULT_DAYS = 30


class FilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(required=False, choices=[("", "All channels"), *CONVERSATION_CHANNELS])

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end is before the start.")
        elif start and end and (end - start).days >= analytics.MAX_DAYS:
            self.add_error("end", f"At most {analytics.MAX_DAYS} days at once.")
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
    title = f"Analytics — {tenant.name}" if tenant else "Analytics"
    context = {**admin.site.each_context(request), "title": title, "form": form, "tenant": tenant}
    if tenant is not None and not form.errors:
        report = analytics.report(tenant=tenant, start=start, end=end, channel=channel)
        context["report"] = report
        context["charts"] = {
            "conversations": charts.bar_chart(
                report.days,
                [
                    charts.Series("conversations", report.conversations_per_day),
                    charts.Series("customer messages", report.user_messages_per_day),
                    charts.Series("answers", report.answers_per_day),
                ],
                title="Conversations and messages per day",
            ),
            "tokens": charts.bar_chart(
                report.days,
                [charts.Series("tokens", report.tokens_per_day)],
                title="Tokens per day",
                limit=report.daily_token_budget,
            ),
            "cost": charts.bar_chart(
                report.days,
                [charts.Series("cost (USD)", [float(c) for c in report.cost_per_day])],
                title="Cost per day",
            ),
        }
    return render(request, "chat/analytics.html", context)
