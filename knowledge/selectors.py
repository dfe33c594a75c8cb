"""Reads of the knowledge base, always scoped to one tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from knowledge.models import Document, Source


def document_list(*, tenant, tag: str | None = None, status: str | None = None) -> QuerySet[Document]:
    qs = Document.objects.filter(tenant=tenant).defer("body")
    if tag:
        qs = qs.filter(tags_key__contains=f"|{tag}|")
    if status:
        qs = qs.filter(status=status)
    return qs


def source_list(*, tenant) -> QuerySet[Source]:
    return Source.objects.filter(tenant=tenant)
