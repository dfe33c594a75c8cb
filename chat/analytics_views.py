"""The back-office analytics pages, for the tenant chosen in the back-office
(tenants.staff.current_tenant): the agent at a glance (/admin/analytics/), the
knowledge gaps (/admin/analytics/gaps/), and, for owners, the conversation export
(/admin/analytics/exports/): the same ``conversation-export`` job the API starts
(chat/exports.py), its progress, and the expiring download link once it is done."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from chat import analytics, charts, exports, gaps
from chat.models import CONVERSATION_CHANNELS
from jobs import services as jobs
from jobs.models import Job, JobStatus
from siganteng.errors import ApiError
from tenants import audit
from tenants.models import Membership, Tenant
from tenants.staff import current_tenant, role_for

DEFAULT_DAYS = 30
RECENT_EXPORTS = 5
EXPORT_STATUS = {
    JobStatus.QUEUED: gettext_lazy("waiting"),
    JobStatus.RUNNING: gettext_lazy("running"),
    JobStatus.SUCCEEDED: gettext_lazy("ready"),
    JobStatus.FAILED: gettext_lazy("failed"),
    JobStatus.CANCELED: gettext_lazy("canceled"),
}


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


class ExportForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("csv", "CSV"), ("jsonl", gettext_lazy("JSON lines"))]
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("All channels")), *CONVERSATION_CHANNELS],
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("The end is before the start."))
        return data


def _owner_tenant(request: HttpRequest) -> Tenant:
    """The current tenant when the user is one of its owners: exports hold every
    customer's messages, so agents may not start or fetch them."""
    tenant = current_tenant(request)
    if tenant is None:
        raise Http404
    if role_for(request.user, tenant) != Membership.OWNER:
        raise PermissionDenied(_("Only an owner of the tenant can export its conversations."))
    return tenant


def _export_row(request: HttpRequest, job: Job) -> dict:
    """One export as the page shows it; a finished one carries a fresh signed link."""
    params = job.input_params or {}
    row = {
        "id": str(job.pk),
        "url": reverse("analytics-export", args=[job.pk]),
        "status": job.status,
        "status_label": str(EXPORT_STATUS.get(job.status, job.status)),
        "progress": job.progress_percent,
        "range": f"{params.get('start', '')} – {params.get('end', '')}",
        "format": params.get("format") or "csv",
        "channel": params.get("channel") or "",
        "created_at": job.created_at.isoformat(),
        "started": f"{job.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "result": job.result or {},
        "error": job.error[:300] if job.status == JobStatus.FAILED else "",
        "download_url": "",
        "expires_at": None,
    }
    if job.status == JobStatus.SUCCEEDED:
        try:
            link = jobs.job_download(job=job, base_url=request.build_absolute_uri("/"))
        except ApiError:  # finished without a file (it cannot, but then there is no link)
            return row
        row["download_url"] = link["url"]
        row["expires_at"] = link["expires_at"].isoformat()
    return row


def _recent_exports(request: HttpRequest, tenant: Tenant) -> list[dict]:
    recent = Job.objects.filter(tenant=tenant, model__slug=exports.KIND).order_by("-created_at")[:RECENT_EXPORTS]
    return [_export_row(request, job) for job in recent]


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
    if tenant is not None and role_for(request.user, tenant) == Membership.OWNER:
        context["export_form"] = ExportForm(
            initial={"start": start, "end": end, "format": "csv", "channel": channel}, auto_id="export_%s"
        )
        context["exports"] = _recent_exports(request, tenant)
        context["link_minutes"] = max(1, settings.SIGNED_URL_MAX_AGE // 60)
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
@require_POST
def export_start(request: HttpRequest) -> HttpResponse:
    """Start a ``conversation-export`` job for the current tenant (owners only), then
    back to the analytics page, where its progress shows."""
    tenant = _owner_tenant(request)
    form = ExportForm(request.POST, auto_id="export_%s")
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(f"{reverse('analytics')}#export")
    data = form.cleaned_data
    params = {"start": data["start"].isoformat(), "end": data["end"].isoformat(), "format": data["format"]}
    if data["channel"]:
        params["channel"] = data["channel"]
    try:
        job, _created = jobs.job_submit(tenant=tenant, model_slug=exports.KIND, input_params=params)
    except ApiError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('analytics')}#export")
    audit.record(tenant=tenant, actor=request.user, action="conversations.export", obj=job, changes=params)
    messages.success(request, _("The export has started; its link appears below when it is ready."))
    return redirect(f"{reverse('analytics')}#export")


@staff_member_required
@require_GET
def export_status(request: HttpRequest, job_id) -> JsonResponse:
    """One export of the current tenant as JSON (owners only; another tenant's is a 404),
    for the page's progress script."""
    tenant = _owner_tenant(request)
    job = Job.objects.filter(tenant=tenant, model__slug=exports.KIND, pk=job_id).first()
    if job is None:
        raise Http404
    return JsonResponse(_export_row(request, job))


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
