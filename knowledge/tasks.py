"""What django-q2 runs for the knowledge base. Tasks take ids and call services."""

from __future__ import annotations

from knowledge import services

SCHEDULES = []


def ingest_document(document_id: str) -> None:
    """Index one document (a no-op when its current content is already indexed)."""
    services.document_index(document_id=document_id)
