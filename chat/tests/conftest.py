"""Fixtures for the chat suite: a small knowledge base per tenant."""

from __future__ import annotations

import pytest

DOCS = [
    (
        "shipping",
        "Shipping",
        "We ship to all of Indonesia. Orders to Jakarta arrive in 1-2 days. "
        "Shipping to Bali takes 3-4 days. Express shipping costs Rp 25.000 extra.",
    ),
    (
        "returns",
        "Returns",
        "Returns are accepted within 7 days of delivery when the item is unused. "
        "Refunds are handled by our staff, never by the chat assistant.",
    ),
    ("hours", "Store hours", "Our store in Bandung opens Monday to Friday from 9 am to 5 pm."),
]


@pytest.fixture
def kb(db):
    """``kb(tenant, docs=DOCS)`` indexes documents inline for ``tenant``."""
    from knowledge import services as knowledge_services

    def _make(tenant, docs=DOCS):
        return [
            knowledge_services.document_upsert(tenant=tenant, external_id=ext, title=title, body=body, index_now=True)
            for ext, title, body in docs
        ]

    return _make
