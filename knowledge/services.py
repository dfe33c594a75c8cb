"""Writes to the knowledge base: upsert, index, delete; and the search entry point.

Contracts:
- ``document_upsert`` is idempotent by (tenant, external_id) and the content hash of
  title + body: the same content again changes nothing and queues nothing.
- ``document_index`` (run by ``knowledge.tasks.ingest_document``) chunks, embeds and
  replaces the document's chunks in one transaction, so a search sees either the old
  chunks or the new ones, never a mix. A failure is recorded on the document.
- ``search`` (``knowledge.retrieval``) reads only the given tenant's chunks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from knowledge import analysis, extract, retrieval
from knowledge.chunking import chunk_text
from knowledge.models import Chunk, Document, KnowledgeVersion
from knowledge.retrieval import SearchHit
from siganteng import metrics
from siganteng.ai.base import ProviderError
from siganteng.ai.registry import get_embedder
from siganteng.errors import ApiError, field_error
from siganteng.queue import enqueue

logger = logging.getLogger(__name__)

MAX_TAGS = 20
MAX_TAG_LENGTH = 50


def search(**kwargs: Any) -> list[SearchHit]:
    """The public search entry point: :func:`knowledge.retrieval.search`, timed for
    ``/metrics`` (``siganteng_retrieval_duration_seconds``)."""
    started = time.perf_counter()
    try:
        return retrieval.search(**kwargs)
    finally:
        metrics.retrieval(seconds=time.perf_counter() - started)


def content_hash(title: str, body: str) -> str:
    return hashlib.sha256(f"{title}\x00{body}".encode()).hexdigest()


def clean_tags(tags: list[str] | None, *, field: str = "tags") -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise field_error(field, "Must be a list of strings.")
    out = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(out) > MAX_TAGS:
        raise field_error(field, f"At most {MAX_TAGS} tags.")
    for t in out:
        if len(t) > MAX_TAG_LENGTH or "|" in t:
            raise field_error(field, f"Tags are at most {MAX_TAG_LENGTH} characters and contain no '|'.")
    return out


def tags_key(tags: list[str]) -> str:
    return "|" + "|".join(tags) + "|" if tags else ""


def knowledge_changed(*, tenant_id: str) -> None:
    """Move the tenant's knowledge version (call inside the transaction that changed chunks).

    A random value rather than a counter: a counter restarts after a rolled-back
    transaction or a restored database, and a process could then take an old cached
    matrix for current."""
    version = secrets.randbits(62)
    if not KnowledgeVersion.objects.filter(tenant_id=tenant_id).update(version=version):
        KnowledgeVersion.objects.update_or_create(tenant_id=tenant_id, defaults={"version": version})


def document_upsert(
    *,
    tenant,
    external_id: str,
    title: str,
    body: str,
    tags: list[str] | None = None,
    source: str = Document.Source.MANUAL,
    source_url: str = "",
    origin=None,
    index_now: bool = False,
) -> Document:
    """Create or update the tenant's document ``external_id``.

    Unchanged content (same title and body hash, not FAILED) re-indexes nothing; new
    tags are still saved. Changed content is set PENDING and an ingestion task queued
    after commit (or indexed inline with ``index_now``, for seeds and tests). The
    returned document carries ``action``: ``created``, ``updated`` or ``unchanged``.
    """
    external_id = (external_id or "").strip()
    if not external_id:
        raise field_error("external_id", "This field may not be blank.")
    if len(external_id) > 255:
        raise field_error("external_id", "At most 255 characters.")
    title = (title or "").strip()
    if len(title) > 500:
        raise field_error("title", "At most 500 characters.")
    if not isinstance(body, str) or not body.strip():
        raise field_error("body", "The document has no text (empty or whitespace only).")
    tags = clean_tags(tags)
    digest = content_hash(title, body)

    for _attempt in range(2):
        try:
            with transaction.atomic():
                doc = Document.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
                if doc is None:
                    doc = Document.objects.create(
                        tenant=tenant,
                        external_id=external_id,
                        title=title,
                        body=body,
                        tags=tags,
                        tags_key=tags_key(tags),
                        source=source,
                        source_url=source_url,
                        origin=origin,
                        content_hash=digest,
                    )
                    doc.action = "created"
                elif doc.content_hash == digest and doc.status != Document.Status.FAILED:
                    if doc.tags != tags:
                        doc.tags, doc.tags_key = tags, tags_key(tags)
                        doc.save(update_fields=["tags", "tags_key", "updated_at"])
                    doc.action = "unchanged"
                    return doc
                else:
                    doc.title, doc.body, doc.tags, doc.tags_key = title, body, tags, tags_key(tags)
                    doc.source, doc.source_url, doc.content_hash = source, source_url, digest
                    if origin is not None:
                        doc.origin = origin
                    doc.status, doc.error = Document.Status.PENDING, ""
                    doc.save()
                    doc.action = "updated"
                if not index_now:
                    enqueue("knowledge.tasks.ingest_document", str(doc.pk))
            break
        except IntegrityError:
            # A concurrent upsert created the same external_id first: update that row.
            continue
    if index_now:
        action = doc.action
        doc = document_index(document_id=doc.pk) or doc
        doc.action = action
    return doc


def document_upload(
    *, tenant, uploaded, external_id: str = "", title: str = "", tags: list[str] | None = None
) -> Document:
    """Keep an uploaded file in storage and queue its ingestion (text extraction happens there).

    Raises 413 over ``KB_UPLOAD_MAX_BYTES`` and 415 for types other than .txt, .md, .html,
    .pdf and .docx. Idempotent by external_id (default: the file name) and the file's hash.
    """
    name = uploaded.name or "upload"
    if uploaded.size > settings.KB_UPLOAD_MAX_BYTES:
        raise ApiError(
            f"The file is larger than {settings.KB_UPLOAD_MAX_BYTES} bytes.",
            code="file_too_large",
            status_code=413,
            fields={"file": ["Too large."]},
        )
    kind = extract.kind_for(name, getattr(uploaded, "content_type", "") or "")
    if kind is None:
        raise ApiError(
            f"Unsupported file type; send one of {', '.join(extract.EXTENSIONS)}.",
            code="unsupported_media_type",
            status_code=415,
            fields={"file": ["Unsupported type."]},
        )
    data = uploaded.read()
    if kind == "docx":
        try:
            extract.check_archive(data)
        except extract.ArchiveTooLarge as exc:
            raise ApiError(str(exc), code="file_too_large", status_code=413, fields={"file": [str(exc)]}) from None
        except extract.ExtractionError:
            pass  # not a valid archive: ingestion records that on the document
    external_id = (external_id or name).strip()[:255]
    title = (title or name).strip()[:500]
    tags = clean_tags(tags)
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        doc = Document.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
        if doc is not None and doc.content_hash == digest and doc.status != Document.Status.FAILED:
            if doc.tags != tags:
                doc.tags, doc.tags_key = tags, tags_key(tags)
                doc.save(update_fields=["tags", "tags_key", "updated_at"])
            doc.action = "unchanged"
            return doc
        action = "updated" if doc else "created"
        doc = doc or Document(tenant=tenant, external_id=external_id)
        old_file = doc.file.name if doc.file else ""
        doc.title, doc.body, doc.tags, doc.tags_key = title, "", tags, tags_key(tags)
        doc.source, doc.content_hash = Document.Source.FILE, digest
        doc.status, doc.error = Document.Status.PENDING, ""
        stored_name = name + extract.suffix_for(name, getattr(uploaded, "content_type", "") or "")
        doc.file.save(f"{tenant.pk}/{stored_name}", ContentFile(data), save=False)
        doc.save()
        doc.action = action
        enqueue("knowledge.tasks.ingest_document", str(doc.pk))
        if old_file and old_file != doc.file.name:
            storage = doc.file.storage
            transaction.on_commit(lambda: storage.delete(old_file))
    return doc


def _embed(texts: list[str]) -> tuple[list[bytes | None], str]:
    embedder = get_embedder()
    if embedder is None or not texts:
        return [None] * len(texts), ""
    batch = max(1, int(getattr(embedder, "batch_size", settings.KB_EMBED_BATCH)))
    rows: list[bytes | None] = []
    for i in range(0, len(texts), batch):
        matrix = embedder.embed(texts[i : i + batch])
        if matrix.shape[0] != len(texts[i : i + batch]):
            raise ProviderError(
                "The embedder returned a different number of vectors than texts.",
                permanent=True,
                provider=embedder.name,
            )
        rows.extend(np.ascontiguousarray(v, dtype=np.float32).tobytes() for v in matrix)
    return rows, embedder.model


def embedding_input(title: str, text: str) -> str:
    return f"{title}\n{text}" if title else text


def _record_failure(doc: Document, digest: str, message: str) -> None:
    Document.objects.filter(pk=doc.pk, content_hash=digest).update(
        status=Document.Status.FAILED, error=message[:2000], updated_at=timezone.now()
    )


def document_index(*, document_id: Any, force: bool = False) -> Document | None:
    """Extract (files), chunk, embed and index one document; replace its chunks atomically.

    Returns the document, or ``None`` if it no longer exists. Nothing happens when the
    indexed content is already current (unless ``force``) — duplicate wake-ups are no-ops —
    or when the content changed meanwhile (the newer upsert queued its own run). A
    permanent failure is recorded on the document (FAILED, ``error``); a transient
    provider error is recorded and re-raised so the queue retries.
    """
    doc = Document.objects.select_related("tenant").filter(pk=document_id).first()
    if doc is None:
        return None
    if not force and doc.status == Document.Status.INDEXED and doc.indexed_hash == doc.content_hash:
        return doc
    digest = doc.content_hash
    try:
        body, spans, search_texts, vectors, model = _prepare(doc)
    except (extract.ExtractionError, ProviderError) as exc:
        _record_failure(doc, digest, f"{type(exc).__name__}: {exc}")
        if isinstance(exc, ProviderError) and not exc.permanent:
            raise
        return Document.objects.filter(pk=doc.pk).first()
    except Exception as exc:
        logger.exception("Indexing document %s failed", doc.pk)
        _record_failure(doc, digest, f"Indexing failed: {type(exc).__name__}: {exc}")
        raise
    try:
        return _replace_chunks(doc.pk, digest, body, spans, search_texts, vectors, model)
    except (DataError, IntegrityError) as exc:
        # The text could not be stored as it is: a permanent failure of this content.
        logger.exception("Storing the chunks of document %s failed", doc.pk)
        _record_failure(doc, digest, f"The document's text could not be stored: {type(exc).__name__}: {exc}")
        return Document.objects.filter(pk=doc.pk).first()


def _prepare(doc: Document) -> tuple[str, list, list[str], list[bytes | None], str]:
    """Everything that takes time, done before any write: extract (files), clean, chunk,
    analyse and embed. No transaction is open meanwhile, so on SQLite another tenant's
    writes never wait behind a large document."""
    body = doc.body
    if doc.source == Document.Source.FILE and doc.file:
        with doc.file.open("rb") as fh:
            body = extract.extract_text(fh.read(), doc.file.name)
        if not body.strip():
            raise extract.ExtractionError("The file contains no extractable text.")
    body = extract.storable(body)
    language = analysis.language_for_locale(doc.tenant.locale)
    spans = chunk_text(
        body, target_tokens=settings.KB_CHUNK_TARGET_TOKENS, overlap_tokens=settings.KB_CHUNK_OVERLAP_TOKENS
    )
    if not spans:
        raise extract.ExtractionError("The document has no text to index.")
    search_texts = [analysis.index_text(f"{doc.title}\n{s.text}", language) for s in spans]
    vectors, model = _embed([embedding_input(doc.title, s.text) for s in spans])
    return body, spans, search_texts, vectors, model


def _replace_chunks(
    document_id: Any, digest: str, body: str, spans: list, search_texts: list[str], vectors: list, model: str
) -> Document | None:
    """Swap the document's chunks for the prepared ones in one short transaction, so a
    search sees the old chunks or the new ones, never a mix; a no-op when the content
    changed meanwhile (the newer upsert queued its own run)."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document_id).first()
        if current is None or current.content_hash != digest:
            return current
        Chunk.objects.filter(document=current).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    tenant_id=current.tenant_id,
                    document=current,
                    ordinal=s.ordinal,
                    text=s.text,
                    start=s.start,
                    end=s.end,
                    token_count=s.token_count,
                    search_text=search_text,
                    embedding=vec,
                    embedding_model=model,
                )
                for s, search_text, vec in zip(spans, search_texts, vectors, strict=True)
            ],
            batch_size=500,
        )
        if current.source == Document.Source.FILE:
            current.body = body
        current.status, current.error = Document.Status.INDEXED, ""
        current.indexed_hash, current.chunk_count, current.indexed_at = digest, len(spans), timezone.now()
        current.save()
        knowledge_changed(tenant_id=current.tenant_id)
    return current


def documents_recover_pending() -> int:
    """Queue ingestion again for documents PENDING longer than ``KB_PENDING_RECOVER_AFTER``
    seconds: their wake-up was lost (a worker died, the broker was down). Indexing is
    idempotent by content hash, so a duplicate wake-up changes nothing. Returns how many."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.KB_PENDING_RECOVER_AFTER)
    stuck = list(
        Document.objects.filter(status=Document.Status.PENDING, updated_at__lt=cutoff).values_list("pk", flat=True)[
            :500
        ]
    )
    if stuck:
        # Touch them so the next pass waits another interval before queueing them again.
        Document.objects.filter(pk__in=stuck, status=Document.Status.PENDING).update(updated_at=timezone.now())
        for pk in stuck:
            enqueue("knowledge.tasks.ingest_document", str(pk))
    return len(stuck)


def document_reindex(*, document: Document) -> None:
    """Queue a forced re-index (admin action, or after the tenant's locale or embedder changed)."""
    Document.objects.filter(pk=document.pk).update(status=Document.Status.PENDING, indexed_hash="")
    enqueue("knowledge.tasks.ingest_document", str(document.pk))


def document_delete(*, document: Document) -> None:
    """Delete the document, its chunks and its stored file."""
    file_name = document.file.name if document.file else ""
    storage = document.file.storage if document.file else None
    with transaction.atomic():
        tenant_id = document.tenant_id
        Chunk.objects.filter(document=document).delete()
        document.delete()
        knowledge_changed(tenant_id=tenant_id)
        if file_name and storage is not None:
            transaction.on_commit(lambda: storage.delete(file_name))
