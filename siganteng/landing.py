"""The two front doors: ``/`` (a small landing page for people) and ``/api/v1/`` (the
API root for clients and the browsable API), so neither answers 404 to a newcomer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from siganteng.health import require_GET

# The resources under /api/v1/, by URL name; routes with ids are listed by their list route.
API_RESOURCES = {
    "chat": "chat",
    "conversations": "conversation-list",
    "tools": "tool-list",
    "usage": "usage-list",
    "channels": "channels",
    "kb_upsert": "kb-upsert",
    "kb_documents": "kb-documents",
    "kb_search": "kb-search",
    "kb_sources": "kb-sources",
    "models": "models-list",
    "jobs": "jobs-list",
    "jobs_upload_ticket": "jobs-upload-ticket",
    "background_generate_text": "background-generate",
    "followup_schedule": "followup-schedule",
    "followup_pending": "followup-pending",
    "followups": "followups",
}
# Routes that need a tenant id in the path, shown as templates.
API_TEMPLATES = {
    "tenant_settings": "/api/v1/tenants/{tenant_id}/settings",
    "tenant_keys": "/api/v1/tenants/{tenant_id}/keys",
}

LINKS = (
    ("API docs (Swagger UI)", "docs"),
    ("API reference (ReDoc)", "docs-redoc"),
    ("API root", "api-root"),
    ("Back-office", "admin:index"),
    ("Agent playground", "playground"),
    ("Health", "healthz"),
    ("Readiness", "readyz"),
    ("OpenAPI schema", "schema"),
)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """``/``: what this server is and where to go next."""
    links = [(label, reverse(name)) for label, name in LINKS]
    return render(request, "siganteng/landing.html", {"links": links})


class ApiRootView(APIView):
    """``/api/v1/``: every resource of the API by name, as absolute URLs. Open to anyone:
    it lists routes, not data (each route still needs its key)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="api_root",
        tags=["api"],
        auth=[],
        responses=inline_serializer(
            "ApiRoot",
            {
                "resources": serializers.DictField(child=serializers.URLField()),
                "templates": serializers.DictField(child=serializers.CharField()),
                "docs": serializers.URLField(),
                "schema": serializers.URLField(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        absolute = request.build_absolute_uri
        return Response(
            {
                "resources": {name: absolute(reverse(url_name)) for name, url_name in API_RESOURCES.items()},
                "templates": {name: absolute("/").rstrip("/") + path for name, path in API_TEMPLATES.items()},
                "docs": absolute(reverse("docs")),
                "schema": absolute(reverse("schema")),
            }
        )
