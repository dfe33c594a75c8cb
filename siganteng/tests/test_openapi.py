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
