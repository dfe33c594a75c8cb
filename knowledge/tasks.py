"""What django-q2 runs for the knowledge base. Tasks take ids and call services."""

from __future__ import annotations

from knowledge import services, sources

SCHEDULES = [
    ("knowledge.enqueue_due_sources", "knowledge.tasks.enqueue_due_sources", 1),
    ("knowledge.recover_pending_documents", "knowledge.tasks.recover_pending_documents", 1),
]


def ingest_document(document_id: str) -> None:
    """Index one document (a no-op when its current content is already indexed)."""
    services.document_index(document_id=document_id)


def fetch_source(source_id: str) -> None:
    """Fetch one source and upsert its items; the outcome is recorded on the source."""
    sources.source_fetch(source_id=source_id)


def enqueue_due_sources() -> int:
    """Every minute: queue a fetch for each source whose refresh interval has passed."""
    return sources.sources_enqueue_due()


def recover_pending_documents() -> int:
    """Every minute: queue documents whose ingestion wake-up was lost."""
    return services.documents_recover_pending()
