"""One error shape for every API failure.

``{"error": {"code": "...", "message": "...", "fields": {...}}}`` for all 4xx and 5xx
answers: DRF exceptions, Django's 404/403, unknown routes and unexpected exceptions
(logged with the request id, answered without a stack trace).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from siganteng.middleware import current_request_id

logger = logging.getLogger("siganteng.errors")


class ApiError(exceptions.APIException):
    """Raise from services for a 4xx that is not a plain validation error.

    ``code`` is a stable machine-readable string; ``fields`` names the offending inputs.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "Bad request."

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail=message, code=code or self.default_code)
        if status_code is not None:
            self.status_code = status_code
        self.error_code = code or self.default_code
        self.fields = fields or {}
        self.headers = headers or {}


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def field_error(field: str, message: str, *, code: str = "invalid") -> exceptions.ValidationError:
    """A validation error naming one field, for checks done outside a serializer."""
    return exceptions.ValidationError({field: [message]}, code=code)


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return body


def _flatten(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain lists/dicts of strings."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def dotted_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """A nested DRF error tree as flat field names: ``{"jobs": [{}, {"model": [...]}]}``
    becomes ``{"jobs[1].model": [...]}``, so a client of a batch route can tell which
    item and field to fix."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if key == "non_field_errors" and prefix:
                name = prefix
            elif isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in dotted_fields(value, name).items():
                out.setdefault(field, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]} if detail else {}
        out = {}
        for i, item in enumerate(detail):
            for field, messages in dotted_fields(item, f"{prefix}[{i}]").items():
                out.setdefault(field, []).extend(messages)
        return out
    return {prefix or "non_field_errors": [str(detail)]}


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "rate_limited",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every exception becomes the one error shape."""
    if isinstance(exc, RequestDataTooBig):
        exc = ApiError("Request body too large.", code="request_too_large", status_code=413)
    elif isinstance(exc, UnreadablePostError):
        # The body stalled past WEB_BODY_TIMEOUT (siganteng/wsgi.py) or the client went away.
        exc = ApiError("The request body did not arrive in time.", code="request_timeout", status_code=408)
    elif isinstance(exc, SuspiciousOperation):
        exc = ApiError("Bad request.", code="bad_request", status_code=400)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )

    if isinstance(exc, ApiError):
        set_rollback()
        return Response(
            error_body(exc.error_code, str(exc.detail), _flatten(exc.fields)),
            status=exc.status_code,
            headers=exc.headers,
        )

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _flatten(detail)
        else:
            fields = {"non_field_errors": _flatten(detail if isinstance(detail, list) else [detail])}
        names = ", ".join(sorted(fields)) or "request"
        return Response(
            error_body("validation_error", f"Invalid input: {names}.", fields),
            status=exc.status_code,
        )

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        detail = exc.detail
        message = str(detail) if not isinstance(detail, (dict, list)) else exc.default_detail
        fields = _flatten(detail) if isinstance(detail, dict) else {}
        return Response(error_body(str(code), str(message), fields), status=exc.status_code, headers=headers)

    set_rollback()
    request_id = current_request_id()
    logger.exception("Unhandled error in API request %s", request_id)
    return Response(
        error_body("server_error", f"Internal server error (request id {request_id})."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


@csrf_exempt  # a POST to an unknown API route is a 404, not a CSRF failure page
def not_found_view(request: HttpRequest, exception: Exception | None = None, **kwargs: Any) -> JsonResponse:
    """Catch-all for unknown API routes, and Django's ``handler404``."""
    return JsonResponse(error_body("not_found", f"No route for {request.path}."), status=404)


def server_error_view(request: HttpRequest) -> JsonResponse:
    """Django's ``handler500`` for errors outside DRF views."""
    return JsonResponse(
        error_body("server_error", f"Internal server error (request id {current_request_id()})."),
        status=500,
    )


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400 for views outside DRF (channel webhooks, pages). A body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` reaches Django as a SuspiciousOperation too, and is
    answered 413 as the API answers it."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body("request_too_large", "Request body too large."), status=413)
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Permission denied."), status=403)


class _ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. validation_error, not_found.")
    message = serializers.CharField()
    fields = serializers.DictField(help_text="Each bad input field and what is wrong with it.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for OpenAPI: ``{"error": {"code", "message", "fields"}}``."""

    error = _ErrorBodySerializer()
