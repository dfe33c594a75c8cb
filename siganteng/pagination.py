"""Cursor pagination on an unchanging ordering, as histories need, and the one helper
every list view answers with."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView


class CreatedCursorPagination(CursorPagination):
    """Newest first by ``created_at``; ties broken by the cursor's position offset."""

    ordering = ("-created_at", "-pk")
    page_size_query_param = "page_size"
    max_page_size = 200


def pagination_class_of(view: APIView) -> type[BasePagination] | None:
    """The paginator class a view's lists use: its own ``pagination_class`` (``None`` for
    an unpaginated list), else ``DEFAULT_PAGINATION_CLASS`` as for DRF's generic views.
    The OpenAPI schema (``siganteng.schema``) reads the same rule."""
    if hasattr(view, "pagination_class"):
        return view.pagination_class
    return api_settings.DEFAULT_PAGINATION_CLASS


def paginated_response(
    *,
    view: APIView,
    request: Request,
    queryset: QuerySet,
    serializer_class: type[serializers.BaseSerializer],
    context: dict[str, Any] | None = None,
) -> Response:
    """One page of ``queryset`` in the cursor envelope ``{"next", "previous", "results"}``.

    The queryset keeps its own filters; the paginator imposes its ordering. An unknown or
    tampered ``cursor`` is a 404, ``page_size`` is capped by the paginator."""
    pagination_class = pagination_class_of(view)
    if pagination_class is None:
        raise TypeError(f"{type(view).__name__} declares pagination_class = None: answer its list unpaginated.")
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context=context or {}).data
    return paginator.get_paginated_response(data)
