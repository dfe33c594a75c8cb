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
def kb_docs():
    """The documents ``kb(tenant)`` indexes for this suite."""
    return DOCS
