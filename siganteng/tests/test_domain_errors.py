"""The project's own errors: plain exceptions services raise, mapped to the one error
shape by the API layer, with retries decided from the error and never from a status."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from siganteng.errors import (
    ApiError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
    UpstreamError,
    field_error,
)


def _answer(exc: Exception):
    """What a DRF view raising ``exc`` answers, through the project's handler."""

    class Raises(APIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]
        throttle_classes: list = []

        def get(self, request):
            raise exc

    response = Raises.as_view()(APIRequestFactory().get("/x"))
    return response.status_code, response.data, response


def test_it_keeps_the_domain_errors_apart_from_drf_and_django():
    for cls in (ApiError, InvalidInput, NotFound, Forbidden, Conflict, Unavailable, UpstreamError):
        assert not issubclass(cls, (exceptions.APIException, Http404))
        assert issubclass(cls, ApiError)


@pytest.mark.parametrize(
    "exc,status,code",
    [
        (ApiError("Nope."), 400, "bad_request"),
        (NotFound("This job has no output artifact."), 404, "not_found"),
        (Forbidden("Only the platform may create tenants."), 403, "permission_denied"),
        (Conflict("The job is SUCCEEDED.", code="not_cancelable"), 409, "not_cancelable"),
        (Unavailable("The language model failed: overloaded"), 503, "unavailable"),
        (UpstreamError("The language model returned no response."), 502, "provider_error"),
        (ApiError("Too big.", code="file_too_large", status_code=413), 413, "file_too_large"),
    ],
)
def test_it_answers_a_domain_error_with_its_own_message(exc, status, code):
    got_status, body, _ = _answer(exc)
    assert got_status == status
    assert body == {"error": {"code": code, "message": exc.message, "fields": {}}}


def test_it_answers_a_field_error_like_a_serializer_error():
    status, body, _ = _answer(field_error("Idempotency-Key", "At most 200 characters."))
    assert status == 400
    assert body == {
        "error": {
            "code": "validation_error",
            "message": "Invalid input: Idempotency-Key.",
            "fields": {"Idempotency-Key": ["At most 200 characters."]},
        }
    }


def test_it_sends_a_domain_errors_headers():
    _, _, response = _answer(ApiError("Slow down.", code="busy", status_code=429, headers={"Retry-After": "7"}))
    assert response["Retry-After"] == "7"


def test_it_answers_a_raised_http404_without_djangos_model_names():
    status, body, _ = _answer(Http404("No Job matches the given query."))
    assert status == 404 and body["error"]["message"] == "Not found."


def test_it_decides_retries_from_the_error_not_its_status():
    assert Unavailable("down").retryable
    assert not UpstreamError("refused").retryable
    assert not ApiError("a 503 by status alone", status_code=503).retryable
    assert ApiError("retry me", retryable=True).retryable


def test_it_keeps_the_names_callers_used_when_apierror_was_a_drf_exception():
    exc = Conflict("Taken.", code="taken", fields={"name": ["Already exists."]})
    assert (exc.error_code, exc.detail, str(exc)) == ("taken", "Taken.", "Taken.")
    assert exc.status_code == 409 and exc.fields == {"name": ["Already exists."]}
