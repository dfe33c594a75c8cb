"""The OpenAPI schema, Swagger UI and ReDoc are served, with the security schemes declared."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client


@pytest.mark.django_db
def test_it_serves_the_schema_with_its_security_schemes_and_the_doc_pages():
    resp = Client().get("/api/schema/")
    assert resp.status_code == 200
    schema = yaml.safe_load(resp.content)
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    settings_op = schema["paths"]["/api/v1/tenants/{tenant_id}/settings"]
    assert {"get", "put"} <= set(settings_op)
    assert "404" in settings_op["get"]["responses"]
    for page in ["/api/docs/", "/api/redoc/"]:
        assert Client().get(page).status_code == 200


PAGINATED_LISTS = [
    "/api/v1/jobs/",
    "/api/v1/conversations",
    "/api/v1/conversations/{conversation_id}/messages",
    "/api/v1/tools",
    "/api/v1/usage",
    "/api/v1/channels",
    "/api/v1/kb/documents",
    "/api/v1/kb/sources",
    "/api/v1/followups",
    "/api/v1/followup/pending",
    "/api/v1/tenants/{tenant_id}/keys",
]


# Called with a signature, not an API key: no 401/403 from authentication.
SIGNED_NOT_KEYED = {"/api/v1/demo/shipping-quote"}
# Open to anyone: the API root lists routes, not data.
OPEN = {"/api/v1/"}


@pytest.fixture(scope="module")
def openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else node


def test_it_declares_every_paginated_list_as_the_cursor_envelope(openapi):
    for path in PAGINATED_LISTS:
        op = openapi["paths"][path]["get"]
        body = _resolve(openapi, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert set(body["properties"]) == {"next", "previous", "results"}, path
        assert body["properties"]["results"]["type"] == "array", path
        assert {p["name"] for p in op["parameters"]} >= {"cursor", "page_size"}, path
        assert "404" in op["responses"], f"{path}: an unknown cursor is a 404"


def test_it_declares_the_errors_every_operation_can_answer_in_the_error_shape(openapi):
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            where = f"{method.upper()} {path}"
            assert "400" in responses, where
            if "{" in path:
                assert "404" in responses, where
            if path not in SIGNED_NOT_KEYED | OPEN:
                assert {"401", "403"} <= set(responses), where
            if "requestBody" in op:
                assert {"408", "413", "415"} <= set(responses), where
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{where} {code}"


def test_it_declares_the_event_stream_of_the_chat_routes(openapi):
    for path in ("/api/v1/chat", "/v1/chat/completions"):
        content = openapi["paths"][path]["post"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}, path


def test_it_declares_the_idempotency_key_header_where_it_is_read(openapi):
    for path in ("/api/v1/jobs/", "/api/v1/background/generate_text", "/api/v1/followup/schedule"):
        params = openapi["paths"][path]["post"]["parameters"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params), path
