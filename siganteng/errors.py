"""The project's errors, and the one error shape every API failure is answered in.

Services raise the domain errors below (``ApiError`` and its family). They are plain
exceptions, not DRF's: a task, a management command or the back-office can catch them
and decide from the error itself (``retryable``, ``code``) what to do. The API layer maps
them, DRF's own exceptions, Django's 404/403, unknown routes and unexpected exceptions
(logged with the request id, answered without a stack trace) to one body:

``{"error": {"code": "...", "message": "...", "fields": {...}}}``
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from siganteng.middleware import current_request_id

logger = logging.getLogger("siganteng.errors")


# --- the domain errors services raise ------------------------------------------------


class ApiError(Exception):
    """Root of the project's errors: something a caller asked for cannot be done.

    ``message`` is for people and always reaches the client as is; ``code`` is a stable
    machine-readable string; ``fields`` names the offending inputs (``{"name": ["why"]}``).
    ``status_code`` is only the HTTP answer the API layer gives it. ``retryable`` says
    whether the same work may succeed later unchanged (a provider outage): tasks decide
    on retries from it, never from the status code.
    """

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code: str = "bad_request"
    default_message: str = "Bad request."
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retryable: bool | None = None,
    ):
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)
        self.code = code or self.default_code
        if status_code is not None:
            self.status_code = status_code
        if retryable is not None:
            self.retryable = retryable
        self.fields = fields or {}
        self.headers = headers or {}

    @property
    def error_code(self) -> str:
        """The ``code`` (the name this attribute had when ApiError was a DRF exception)."""
        return self.code

    @property
    def detail(self) -> str:
        """The ``message`` (the name DRF exceptions give it)."""
        return self.message


class InvalidInput(ApiError):
    """Bad input found outside a serializer; ``fields`` names each bad field."""

    default_code = "validation_error"

    def __init__(self, message: str | None = None, *, fields: dict[str, Any], **kwargs: Any):
        super().__init__(message or invalid_input_message(fields), fields=fields, **kwargs)


class NotFound(ApiError):
    """No such object for this caller: unknown, or another tenant's (the same answer)."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_message = "Not found."


class Forbidden(ApiError):
    """The caller is known but may not do this."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"
    default_message = "Permission denied."


class Conflict(ApiError):
    """The request clashes with the object's current state (or a reused key)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_message = "Conflict with the current state."


class Unavailable(ApiError):
    """A dependency (a language model, a provider) failed for now: the same work may
    succeed later, so it is ``retryable``."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_message = "Temporarily unavailable; try again later."
    retryable = True


class UpstreamError(ApiError):
    """A dependency refused the work for good (bad credentials, a rejected request)."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "provider_error"
    default_message = "An upstream provider failed."


def invalid_input_message(fields: Iterable[str]) -> str:
    """``Invalid input: a, b.``: the message every validation error carries."""
    return f"Invalid input: {', '.join(sorted(fields)) or 'request'}."


def field_error(field: str, message: str, *, code: str = "invalid") -> InvalidInput:
    """A validation error naming one field, for checks done outside a serializer.

    ``code`` is accepted for callers that name the field's reason (``does_not_exist``);
    the answer's code is ``validation_error``, as for a serializer's errors."""
    return InvalidInput(fields={field: [message]})


# --- the one error shape -------------------------------------------------------------


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


def _as_domain_error(exc: Exception) -> Exception:
    """Django's own exceptions as the domain errors they mean."""
    if isinstance(exc, RequestDataTooBig):
        return ApiError("Request body too large.", code="request_too_large", status_code=413)
    if isinstance(exc, UnreadablePostError):
        # The body stalled past WEB_BODY_TIMEOUT (siganteng/wsgi.py) or the client went away.
        return ApiError("The request body did not arrive in time.", code="request_timeout", status_code=408)
    if isinstance(exc, SuspiciousOperation):
        return ApiError("Bad request.")
    if isinstance(exc, Http404):
        # Django's own 404 messages ("No Job matches the given query.") name models:
        # a raised Http404 is answered with the plain message.
        return NotFound()
    if isinstance(exc, PermissionDenied):
        return Forbidden()
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return InvalidInput(fields=fields)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every exception becomes the one error shape."""
    exc = _as_domain_error(exc)

    if isinstance(exc, ApiError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, _flatten(exc.fields)),
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
        return Response(error_body("validation_error", invalid_input_message(fields), fields), status=exc.status_code)

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


# --- the error shape in the OpenAPI schema -------------------------------------------


class _ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. validation_error, not_found.")
    message = serializers.CharField()
    fields = serializers.DictField(help_text="Each bad input field and what is wrong with it.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape, for OpenAPI: ``{"error": {"code", "message", "fields"}}``."""

    error = _ErrorBodySerializer()


def error_responses(described: dict[int, str]) -> dict[int, OpenApiResponse]:
    """Error answers of one operation, for ``@extend_schema(responses={200: ...,
    **error_responses({409: "The job is not cancelable."})})``.

    The answers every operation of a kind can give (400, 401, 403, 404, 408, 413, 415, 429)
    are added by :class:`siganteng.schema.AutoSchema`; declare here what is particular to
    the operation (402, 409, 502, 503), or a more precise description of a common one."""
    return {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in described.items()}
