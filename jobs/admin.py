from django.contrib import admin, messages
from django.utils.html import format_html

from jobs import services
from jobs.models import AIModel, Artifact, Job, JobEvent, WebhookAttempt, WebhookDelivery
from siganteng import storage
from siganteng.errors import ApiError
from tenants.admin_scoping import PlatformAdmin, TenantScopedAdmin, TenantScopedInline


@admin.register(AIModel)
class AIModelAdmin(PlatformAdmin):
    """The model catalog is the platform's: superusers only."""

    list_display = ["slug", "kind", "runner", "provider", "enabled", "updated_at"]
    list_filter = ["kind", "runner", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["slug", "name"]


class JobEventInline(TenantScopedInline, admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "status", "progress_percent", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ArtifactInline(TenantScopedInline, admin.TabularInline):
    model = Artifact
    extra = 0
    can_delete = False
    fields = ["kind", "link", "content_type", "size", "sha256"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="file")
    def link(self, obj: Artifact) -> str:
        return format_html('<a href="{}">{}</a>', storage.download_url(obj.key, filename=obj.filename), obj.key)


@admin.register(Job)
class JobAdmin(TenantScopedAdmin):
    list_display = ["id", "tenant", "model", "status", "progress_percent", "attempts", "created_at", "completed_at"]
    list_filter = ["status", "model", "tenant"]
    search_fields = ["id", "prompt", "idempotency_key"]
    readonly_fields = [
        "id",
        "tenant",
        "model",
        "status",
        "progress_percent",
        "result",
        "error",
        "attempts",
        "lease_token",
        "lease_expires_at",
        "worker_id",
        "available_at",
        "enqueued_at",
        "created_at",
        "started_at",
        "completed_at",
        "updated_at",
        "request_hash",
    ]
    inlines = [ArtifactInline, JobEventInline]
    actions = ["retry_jobs", "cancel_jobs"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def _apply(self, request, queryset, operation, verb: str) -> None:
        done = 0
        for job in queryset.select_related("model"):
            try:
                operation(job=job)
                done += 1
            except ApiError as exc:
                self.message_user(request, f"{job.pk}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{verb} {done} job(s).", messages.SUCCESS)

    @admin.action(description="Retry selected failed or canceled jobs")
    def retry_jobs(self, request, queryset) -> None:
        self._apply(request, queryset, services.job_retry, "Retried")

    @admin.action(description="Cancel selected queued or running jobs")
    def cancel_jobs(self, request, queryset) -> None:
        self._apply(request, queryset, services.job_cancel, "Canceled")


class WebhookAttemptInline(TenantScopedInline, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "status_code", "error", "duration_ms", "created_at"]
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    tenant_field = "job__tenant"

    def has_add_permission(self, request) -> bool:
        return False  # deliveries are created when a job completes, never by hand

    list_display = ["id", "job", "event_type", "status", "attempts", "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    readonly_fields = ["id", "job", "url", "event_type", "payload", "attempts", "created_at"]
    inlines = [WebhookAttemptInline]
