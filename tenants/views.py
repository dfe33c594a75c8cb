"""Tenant settings and API key management: ``/api/v1/tenants/{id}/...``.

Every route needs the ``admin`` scope (a tenant's own admin key, the platform key or a
staff session). A tenant key naming another tenant's id gets 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from siganteng.errors import error_responses
from siganteng.pagination import paginated_response
from tenants import selectors, services
from tenants.serializers import (
    ApiKeyCreateInputSerializer,
    ApiKeyOutputSerializer,
    ApiKeyRotateOutputSerializer,
    IssuedKeySerializer,
    TenantSettingsInputSerializer,
    TenantSettingsOutputSerializer,
    TenantWriteOutputSerializer,
)

# 400, 401, 404 and 429 are declared on every operation by siganteng.schema.AutoSchema.
ERRORS = error_responses({403: "Missing scope, X-Tenant-Id mismatch, platform-only field."})


def _issued_data(issued: services.IssuedKey) -> dict:
    return {**ApiKeyOutputSerializer(issued.api_key).data, "key": issued.full_key}


class TenantSettingsView(APIView):
    required_scope = "admin"

    @extend_schema(
        operation_id="tenant_settings_get", tags=["tenants"], responses={200: TenantSettingsOutputSerializer, **ERRORS}
    )
    def get(self, request: Request, tenant_id: str) -> Response:
        tenant = selectors.tenant_for_principal(principal=request.user, tenant_id=tenant_id)
        return Response(TenantSettingsOutputSerializer(tenant).data)

    @extend_schema(
        operation_id="tenant_settings_put",
        tags=["tenants"],
        request=TenantSettingsInputSerializer,
        responses={200: TenantWriteOutputSerializer, 201: TenantWriteOutputSerializer, **ERRORS},
        description=(
            "Create (platform only) or update a tenant. Absent fields keep their value. A tenant's own "
            "admin key may not change rate_limit_per_minute, monthly_token_budget or is_active (403 naming "
            "the field). When the tenant has no key yet, or `api_key` asks for one, `api_key.key` carries the "
            "key, shown this once."
        ),
    )
    def put(self, request: Request, tenant_id: str) -> Response:
        principal = request.user
        if not principal.is_platform:
            selectors.tenant_for_principal(principal=principal, tenant_id=tenant_id)
        serializer = TenantSettingsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        api_key = data.pop("api_key", None)
        result = services.tenant_upsert(
            tenant_id=tenant_id, data=data, by_platform=principal.is_platform, api_key=api_key
        )
        body = TenantSettingsOutputSerializer(result.tenant).data
        body["api_key"] = _issued_data(result.issued) if result.issued else None
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class ApiKeyListCreateView(APIView):
    required_scope = "admin"

    @extend_schema(
        operation_id="tenant_keys_list", tags=["tenants"], responses={200: ApiKeyOutputSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, tenant_id: str) -> Response:
        tenant = selectors.tenant_for_principal(principal=request.user, tenant_id=tenant_id)
        return paginated_response(
            view=self,
            request=request,
            queryset=selectors.api_key_list(tenant=tenant),
            serializer_class=ApiKeyOutputSerializer,
        )

    @extend_schema(
        operation_id="tenant_keys_create",
        tags=["tenants"],
        request=ApiKeyCreateInputSerializer,
        responses={201: IssuedKeySerializer, **ERRORS},
        description="Create a key. The response's `key` is the full secret, shown this once.",
    )
    def post(self, request: Request, tenant_id: str) -> Response:
        tenant = selectors.tenant_for_principal(principal=request.user, tenant_id=tenant_id)
        serializer = ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.api_key_create(tenant=tenant, **serializer.validated_data)
        return Response(_issued_data(issued), status=status.HTTP_201_CREATED)


class ApiKeyRotateView(APIView):
    required_scope = "admin"

    @extend_schema(
        operation_id="tenant_keys_rotate",
        tags=["tenants"],
        request=None,
        responses={
            201: ApiKeyRotateOutputSerializer,
            **ERRORS,
            **error_responses({409: "The key is revoked, expired or already rotated."}),
        },
        description=(
            "Issue a replacement key (same name, scopes and expiry). The old key keeps working for the "
            "rotation grace period (API_KEY_ROTATION_GRACE_SECONDS, default 24 h), then expires."
        ),
    )
    def post(self, request: Request, tenant_id: str, key_id: int) -> Response:
        tenant = selectors.tenant_for_principal(principal=request.user, tenant_id=tenant_id)
        api_key = selectors.api_key_get(tenant=tenant, key_id=key_id)
        issued = services.api_key_rotate(api_key=api_key)
        api_key.refresh_from_db()
        return Response(
            {"new_key": _issued_data(issued), "old_key": ApiKeyOutputSerializer(api_key).data},
            status=status.HTTP_201_CREATED,
        )


class ApiKeyRevokeView(APIView):
    required_scope = "admin"

    @extend_schema(
        operation_id="tenant_keys_revoke",
        tags=["tenants"],
        request=None,
        responses={200: ApiKeyOutputSerializer, **ERRORS},
        description="Revoke a key at once. Revoking a revoked key changes nothing.",
    )
    def post(self, request: Request, tenant_id: str, key_id: int) -> Response:
        tenant = selectors.tenant_for_principal(principal=request.user, tenant_id=tenant_id)
        api_key = services.api_key_revoke(api_key=selectors.api_key_get(tenant=tenant, key_id=key_id))
        return Response(ApiKeyOutputSerializer(api_key).data)
