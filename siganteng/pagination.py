"""Cursor pagination on an unchanging ordering, as histories need."""

from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    """Newest first by ``created_at``; ties broken by the cursor's position offset."""

    ordering = ("-created_at", "-pk")
    page_size_query_param = "page_size"
    max_page_size = 200
