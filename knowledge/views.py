"""Knowledge API under ``/api/v1/kb/``: documents, upload, search and sources.

Every view needs the ``knowledge`` scope and acts for ``request_tenant(request)``;
another tenant's ids answer 404.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from knowledge import selectors, services, sources
from knowledge import serializers as s
from knowledge.models import Document, Source
from siganteng.api import get_owned_or_404
from siganteng.errors import error_responses
from siganteng.pagination import paginated_response
from tenants.auth import request_tenant

# 400, 401, 404, 413, 415 and 429 are declared on every operation by siganteng.schema.AutoSchema.
ERRORS = error_responses({403: "The key lacks the `knowledge` scope."})
TAGS = ["knowledge"]


def _result(doc: Document) -> dict:
    return {"id": doc.pk, "external_id": doc.external_id, "status": doc.status, "action": doc.action}


class UpsertView(APIView):
    required_scope = "knowledge"

    @extend_schema(
        operation_id="kb_upsert",
        tags=TAGS,
        request=PolymorphicProxySerializer(
            component_name="KbUpsertInput",
            serializers=[s.DocumentInputSerializer, s.DocumentBatchInputSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="KbUpsertOutput",
                serializers=[s.UpsertResultSerializer, s.UpsertBatchResultSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
        },
        description=(
            'Create or update one document, or a batch of up to 100 (`{"documents": [...]}`), by '
            "`external_id`. Same title and body again re-indexes nothing (`action: unchanged`); changed "
            "content is re-indexed in the background (`status: PENDING`). A batch is all or nothing."
        ),
    )
    def post(self, request: Request) -> Response:
        tenant = request_tenant(request)
        batch = isinstance(request.data, dict) and "documents" in request.data
        serializer = (s.DocumentBatchInputSerializer if batch else s.DocumentInputSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["documents"] if batch else [serializer.validated_data]
        with transaction.atomic():
            docs = [services.document_upsert(tenant=tenant, **item) for item in items]
        if batch:
            return Response({"documents": [_result(d) for d in docs]})
        return Response(_result(docs[0]))


class DocumentListView(APIView):
    required_scope = "knowledge"

    @extend_schema(
        operation_id="kb_documents_list",
        tags=TAGS,
        parameters=[s.DocumentListQuerySerializer],
        responses={200: s.DocumentOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        tenant = request_tenant(request)
        query = s.DocumentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return paginated_response(
            view=self,
            request=request,
            queryset=selectors.document_list(tenant=tenant, **query.validated_data),
            serializer_class=s.DocumentOutputSerializer,
        )


class DocumentDetailView(APIView):
    required_scope = "knowledge"

    @extend_schema(operation_id="kb_documents_get", tags=TAGS, responses={200: s.DocumentDetailSerializer, **ERRORS})
    def get(self, request: Request, document_id: str) -> Response:
        doc = get_owned_or_404(Document, request_tenant(request), pk=document_id)
        return Response(s.DocumentDetailSerializer(doc).data)

    @extend_schema(operation_id="kb_documents_delete", tags=TAGS, responses={204: None, **ERRORS})
    def delete(self, request: Request, document_id: str) -> Response:
        doc = get_owned_or_404(Document, request_tenant(request), pk=document_id)
        services.document_delete(document=doc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadView(APIView):
    required_scope = "knowledge"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="kb_documents_upload",
        tags=TAGS,
        request={"multipart/form-data": s.UploadInputSerializer},
        responses={
            202: s.UploadOutputSerializer,
            **ERRORS,
            **error_responses(
                {413: "The file is over KB_UPLOAD_MAX_BYTES.", 415: "Not .txt, .md, .html, .pdf or .docx."}
            ),
        },
        description="Upload a file; it is kept in storage and its text extracted and indexed in the background.",
    )
    def post(self, request: Request) -> Response:
        tenant = request_tenant(request)
        serializer = s.UploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tags = [t.strip() for t in data["tags"].split(",") if t.strip()]
        doc = services.document_upload(
            tenant=tenant, uploaded=data["file"], external_id=data["external_id"], title=data["title"], tags=tags
        )
        return Response(s.UploadOutputSerializer(doc).data, status=status.HTTP_202_ACCEPTED)


class SearchView(APIView):
    required_scope = "knowledge"

    @extend_schema(
        operation_id="kb_search",
        tags=TAGS,
        request=s.SearchInputSerializer,
        responses={200: s.SearchOutputSerializer, **ERRORS},
        description="The passages the agent would retrieve: hybrid (full-text and, when configured, vectors).",
    )
    def post(self, request: Request) -> Response:
        tenant = request_tenant(request)
        serializer = s.SearchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hits = services.search(tenant=tenant, **serializer.validated_data)
        return Response(s.SearchOutputSerializer({"results": hits}).data)


class SourceListCreateView(APIView):
    required_scope = "knowledge"

    @extend_schema(
        operation_id="kb_sources_list", tags=TAGS, responses={200: s.SourceOutputSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            view=self,
            request=request,
            queryset=selectors.source_list(tenant=request_tenant(request)),
            serializer_class=s.SourceOutputSerializer,
        )

    @extend_schema(
        operation_id="kb_sources_create",
        tags=TAGS,
        request=s.SourceInputSerializer,
        responses={201: s.SourceOutputSerializer, **ERRORS},
        description="Register a page, RSS/Atom feed or sitemap; it is fetched now and then every `refresh_minutes`.",
    )
    def post(self, request: Request) -> Response:
        serializer = s.SourceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = sources.source_create(tenant=request_tenant(request), **serializer.validated_data)
        return Response(s.SourceOutputSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailView(APIView):
    required_scope = "knowledge"

    @extend_schema(operation_id="kb_sources_get", tags=TAGS, responses={200: s.SourceOutputSerializer, **ERRORS})
    def get(self, request: Request, source_id: str) -> Response:
        return Response(s.SourceOutputSerializer(get_owned_or_404(Source, request_tenant(request), pk=source_id)).data)

    @extend_schema(
        operation_id="kb_sources_update",
        tags=TAGS,
        request=s.SourceUpdateSerializer,
        responses={200: s.SourceOutputSerializer, **ERRORS},
    )
    def patch(self, request: Request, source_id: str) -> Response:
        source = get_owned_or_404(Source, request_tenant(request), pk=source_id)
        serializer = s.SourceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = sources.source_update(source=source, **serializer.validated_data)
        return Response(s.SourceOutputSerializer(source).data)

    @extend_schema(
        operation_id="kb_sources_delete",
        tags=TAGS,
        responses={204: None, **ERRORS},
        description="Delete the source and the documents it created.",
    )
    def delete(self, request: Request, source_id: str) -> Response:
        sources.source_delete(source=get_owned_or_404(Source, request_tenant(request), pk=source_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceRefreshView(APIView):
    required_scope = "knowledge"

    @extend_schema(
        operation_id="kb_sources_refresh",
        tags=TAGS,
        request=None,
        responses={202: s.SourceOutputSerializer, **ERRORS},
        parameters=[OpenApiParameter("source_id", str, OpenApiParameter.PATH)],
        description="Queue a fetch now.",
    )
    def post(self, request: Request, source_id: str) -> Response:
        source = get_owned_or_404(Source, request_tenant(request), pk=source_id)
        sources.source_refresh(source=source)
        return Response(s.SourceOutputSerializer(source).data, status=status.HTTP_202_ACCEPTED)
