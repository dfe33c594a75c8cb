"""Admin for the knowledge base: documents with their chunks, re-index and delete
actions, scheduled sources, and a retrieval preview (what the agent would find)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator

from knowledge import services, sources
from knowledge.models import Chunk, Document, Source
from tenants.admin_scoping import ALL_ROLES, TenantScopedAdmin, TenantScopedInline
from tenants.models import Tenant


class ChunkInline(TenantScopedInline, admin.TabularInline):
    view_roles = ALL_ROLES
    model = Chunk
    extra = 0
    can_delete = False
    fields = ("ordinal", "token_count", "start", "end", "embedding_model", "preview")
    readonly_fields = fields
    ordering = ("ordinal",)

    @admin.display(description="text")
    def preview(self, obj: Chunk) -> str:
        return Truncator(obj.text).chars(300)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RetrieveForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.all())
    query = forms.CharField(max_length=2000)
    k = forms.IntegerField(min_value=1, max_value=50, initial=5)


@admin.register(Document)
class DocumentAdmin(TenantScopedAdmin):
    # Agents read the knowledge base; owners edit it.
    view_roles = ALL_ROLES

    list_display = ("title_or_id", "tenant", "status", "tag_list", "chunk_count", "source", "updated_at")
    list_filter = ("status", "source", "tenant")
    search_fields = ("external_id", "title", "tenant__id")
    readonly_fields = (
        "id",
        "content_hash",
        "indexed_hash",
        "status",
        "error",
        "chunk_count",
        "indexed_at",
        "created_at",
        "updated_at",
        "origin",
    )
    fields = ("tenant", "external_id", "title", "tags", "source", "source_url", "file", "body", *readonly_fields)
    raw_id_fields = ("tenant",)
    inlines = [ChunkInline]
    actions = ["reindex", "delete_with_chunks"]
    change_list_template = "admin/knowledge/document/change_list.html"

    @admin.display(description="document", ordering="title")
    def title_or_id(self, obj: Document) -> str:
        return obj.title or obj.external_id

    @admin.display(description="tags")
    def tag_list(self, obj: Document) -> str:
        return ", ".join(obj.tags)

    def save_model(self, request, obj: Document, form, change: bool) -> None:
        # Edits go through the same upsert as the API, so hashing and re-indexing stay in one place.
        doc = services.document_upsert(
            tenant=obj.tenant,
            external_id=obj.external_id,
            title=obj.title,
            body=obj.body,
            tags=obj.tags,
            source=obj.source,
            source_url=obj.source_url,
        )
        obj.pk = doc.pk

    def delete_model(self, request, obj: Document) -> None:
        services.document_delete(document=obj)

    def delete_queryset(self, request, queryset) -> None:
        for doc in queryset:
            services.document_delete(document=doc)

    @admin.action(description="Re-index selected documents")
    def reindex(self, request, queryset) -> None:
        for doc in queryset:
            services.document_reindex(document=doc)
        self.message_user(request, f"Queued {queryset.count()} document(s) for re-indexing.", messages.SUCCESS)

    @admin.action(description="Delete selected documents and their chunks")
    def delete_with_chunks(self, request, queryset) -> None:
        count = queryset.count()
        self.delete_queryset(request, queryset)
        self.message_user(request, f"Deleted {count} document(s).", messages.SUCCESS)

    def get_urls(self):
        return [
            path("retrieve/", self.admin_site.admin_view(self.retrieve_view), name="knowledge_document_retrieve"),
            *super().get_urls(),
        ]

    def retrieve_view(self, request):
        """What the agent would retrieve for a tenant and a query."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RetrieveForm(request.GET or None)
        form.fields["tenant"].queryset = self._scope_choices(request, Tenant.objects.all())
        hits = []
        if form.is_valid():
            hits = services.search(
                tenant=form.cleaned_data["tenant"], query=form.cleaned_data["query"], k=form.cleaned_data["k"]
            )
            for hit in hits:
                hit.url = reverse("admin:knowledge_document_change", args=[hit.document_id])
        context = {
            **self.admin_site.each_context(request),
            "title": "What the agent would retrieve",
            "form": form,
            "hits": hits,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/knowledge/document/retrieve.html", context)


@admin.register(Source)
class SourceAdmin(TenantScopedAdmin):
    view_roles = ALL_ROLES

    list_display = (
        "url",
        "tenant",
        "kind",
        "refresh_minutes",
        "is_active",
        "last_status",
        "last_fetched_at",
        "documents_seen",
    )
    list_filter = ("kind", "last_status", "is_active", "tenant")
    search_fields = ("url", "tenant__id")
    readonly_fields = (
        "etag",
        "last_modified",
        "last_fetched_at",
        "last_status",
        "last_http_status",
        "last_error",
        "documents_seen",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("tenant",)
    actions = ["fetch_now"]

    @admin.action(description="Fetch selected sources now")
    def fetch_now(self, request, queryset) -> None:
        for source in queryset:
            sources.source_refresh(source=source)
        self.message_user(request, f"Queued {queryset.count()} fetch(es).", messages.SUCCESS)

    def delete_model(self, request, obj: Source) -> None:
        sources.source_delete(source=obj)

    def delete_queryset(self, request, queryset) -> None:
        for source in queryset:
            sources.source_delete(source=source)
