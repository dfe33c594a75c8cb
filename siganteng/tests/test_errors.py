"""Every 4xx and 5xx answers ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import logging

import pytest
from django.test import Client


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.content
    assert resp["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code, body
    return body["error"]


@pytest.mark.django_db
def test_it_answers_unknown_api_routes_in_the_error_shape(client_a):
    for url in ["/api/v1/nope", "/api/v1/tenants/acme/settings/", "/v1/whatever", "/api/zzz"]:
        _error(client_a.get(url), 404, "not_found")


@pytest.mark.django_db
def test_it_answers_a_post_to_an_unknown_api_route_with_404_not_a_csrf_page(make_key, tenant):
    client = Client(enforce_csrf_checks=True)
    resp = client.post("/api/v1/nope", data="{}", content_type="application/json", HTTP_X_API_KEY=make_key(tenant))
    _error(resp, 404, "not_found")


@pytest.mark.django_db
def test_it_answers_unknown_non_api_routes_in_the_error_shape(settings):
    settings.DEBUG = False
    _error(Client().get("/no-such-page"), 404, "not_found")


@pytest.mark.django_db
def test_it_answers_an_unknown_method_with_405(client_a, tenant):
    err = _error(client_a.delete(f"/api/v1/tenants/{tenant.pk}/settings"), 405, "method_not_allowed")
    assert "DELETE" in err["message"]
    resp = Client().post("/healthz")
    _error(resp, 405, "method_not_allowed")
    assert "GET" in resp["Allow"]
    _error(Client().put("/readyz"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_it_answers_a_wrong_content_type_with_415(client_a, tenant):
    resp = client_a.put(f"/api/v1/tenants/{tenant.pk}/settings", data="persona=x", content_type="text/plain")
    _error(resp, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_it_answers_malformed_json_with_400(client_a, tenant):
    resp = client_a.put(f"/api/v1/tenants/{tenant.pk}/settings", data='{"persona": ', content_type="application/json")
    err = _error(resp, 400, "malformed_request")
    assert "JSON" in err["message"]


@pytest.mark.django_db
def test_it_names_each_bad_field_in_validation_errors(client_a, tenant):
    resp = client_a.put(
        f"/api/v1/tenants/{tenant.pk}/settings", {"max_bubbles": "many", "timezone": "Nowhere/City"}, format="json"
    )
    err = _error(resp, 400, "validation_error")
    assert set(err["fields"]) == {"max_bubbles", "timezone"}
    assert "max_bubbles" in err["message"] and "timezone" in err["message"]


@pytest.mark.django_db
def test_it_answers_a_missing_key_with_401(tenant):
    from rest_framework.test import APIClient

    _error(APIClient().get(f"/api/v1/tenants/{tenant.pk}/settings"), 401, "not_authenticated")


@pytest.mark.django_db
@pytest.mark.urls("siganteng.tests.urls_boom")
def test_it_answers_an_unexpected_api_exception_with_500_and_a_request_id(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="siganteng.errors"):
        resp = client.get("/boom/api", HTTP_X_REQUEST_ID="req-12345")
    err = _error(resp, 500, "server_error")
    assert "req-12345" in err["message"]
    assert resp["X-Request-Id"] == "req-12345"
    assert "secret internal detail" not in resp.content.decode()
    assert "Traceback" not in resp.content.decode()
    # The operator finds the stack trace in the log by the request id.
    record = next(r for r in caplog.records if "req-12345" in r.getMessage())
    assert record.exc_info is not None


@pytest.mark.django_db
@pytest.mark.urls("siganteng.tests.urls_boom")
def test_it_answers_an_exception_outside_drf_with_500_in_the_error_shape(settings):
    settings.DEBUG = False
    resp = Client(raise_request_exception=False).get("/boom/plain")
    err = _error(resp, 500, "server_error")
    assert resp["X-Request-Id"] in err["message"]
    assert "secret internal detail" not in resp.content.decode()


@pytest.mark.django_db
def test_it_generates_a_request_id_when_none_is_given_and_refuses_odd_ones():
    resp = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert len(resp["X-Request-Id"]) == 32
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="abc.DEF-1_2")["X-Request-Id"] == "abc.DEF-1_2"


@pytest.mark.django_db
def test_it_answers_an_oversized_body_in_the_error_shape(client_a, tenant, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    resp = client_a.put(f"/api/v1/tenants/{tenant.pk}/settings", {"persona": "x" * 500}, format="json")
    assert resp.status_code in (400, 413)
    assert set(resp.json()) == {"error"}
