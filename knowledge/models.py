"""Knowledge base: documents, their chunks, scheduled sources, and a per-tenant version.

The lexical index is kept by the database itself (see migration 0002): on PostgreSQL a
generated ``tsvector`` column over ``Chunk.search_text`` with a GIN index, on SQLite an
FTS5 table kept in step by triggers. ``search_text`` holds the analysed terms
(``knowledge.analysis``), so both databases index the same words.
"""

from __future__ import annotations

import uuid

import numpy as np
from django.db import models
from django.utils.translation import gettext_lazy as _


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        INDEXED = "INDEXED"
        FAILED = "FAILED"

    class Source(models.TextChoices):
        MANUAL = "manual"
        FILE = "file"
        URL = "url"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="documents")
    external_id = models.CharField(max_length=255, help_text="The tenant's own id; unique per tenant.")
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True, help_text="Plain text; for uploads, extracted during ingestion.")
    tags = models.JSONField(default=list, blank=True)
    # "|a|b|" — lets one indexed LIKE filter by tag on both databases.
    tags_key = models.CharField(max_length=2000, blank=True, editable=False, db_index=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    source_url = models.URLField(max_length=2000, blank=True)
    origin = models.ForeignKey(
        "knowledge.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="documents"
    )
    file = models.FileField(upload_to="knowledge/%Y/%m/", blank=True, max_length=500)
    content_hash = models.CharField(max_length=64, editable=False)
    indexed_hash = models.CharField(
        max_length=64, blank=True, editable=False, help_text="content_hash of the chunks now in the index."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="kb_document_tenant_external_id"),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="kb_document_tenant_status")]

    def __str__(self) -> str:
        return self.title or self.external_id


class Chunk(models.Model):
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    start = models.PositiveIntegerField(help_text="Character offset of the chunk in the body.")
    end = models.PositiveIntegerField()
    token_count = models.PositiveIntegerField()
    search_text = models.TextField(help_text="Analysed terms the full-text index is built from.")
    embedding = models.BinaryField(null=True, blank=True, help_text="float32, L2-normalised.")
    embedding_model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="kb_chunk_document_ordinal"),
        ]
        indexes = [models.Index(fields=["tenant", "embedding_model"], name="kb_chunk_tenant_model")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"

    def vector(self) -> np.ndarray | None:
        return None if self.embedding is None else np.frombuffer(bytes(self.embedding), dtype=np.float32)


class KnowledgeVersion(models.Model):
    """Changed (to a new random value) in the same transaction as any change to a tenant's
    chunks, so every process can tell when its cached vector matrix and term statistics
    are stale with one primary-key read."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.tenant_id} v{self.version}"


class Source(models.Model):
    """A URL the tenant wants kept in its knowledge base: a page, an RSS/Atom feed or a sitemap."""

    class Kind(models.TextChoices):
        PAGE = "page"
        FEED = "feed"
        SITEMAP = "sitemap"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="kb_sources")
    url = models.URLField(max_length=2000)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PAGE)
    tags = models.JSONField(default=list, blank=True)
    refresh_minutes = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    next_fetch_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=32, blank=True, help_text="ok, not_modified or error")
    last_http_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    documents_seen = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "url"], name="kb_source_tenant_url")]

    def __str__(self) -> str:
        return self.url
