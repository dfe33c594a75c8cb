"""The OpenAPI schema says what the views answer.

Two rules, applied to every operation so no view has to repeat them:

- **Lists.** An ``APIView`` has no ``pagination_class`` of its own; like DRF's generic
  views, it takes ``DEFAULT_PAGINATION_CLASS``, and a view that answers an unpaginated
  list says ``pagination_class = None``. :func:`siganteng.pagination.paginated_response`
  reads the same rule, so a list declared ``Serializer(many=True)`` is documented as the
  cursor envelope ``{"next", "previous", "results"}`` exactly when it is answered so.
- **Errors.** The answers an operation can give from its shape alone are declared in the
  one error shape: 400 (bad input or headers), 401 and 403 (authenticated views), 404
  (a path parameter, or a list's unknown cursor), 408, 413 and 415 (a request body), 429
  (throttled views). What is particular to one operation (402, 409, 502, 503, ...) is
  declared on it with :func:`siganteng.errors.error_responses`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework.pagination import BasePagination

from siganteng.errors import ErrorSerializer
from siganteng.pagination import pagination_class_of

COMMON_ERRORS = {
    400: "Invalid input; `fields` names each bad field.",
    401: "Missing, malformed, revoked or expired key.",
    403: "The key lacks the scope, or X-Tenant-Id names another tenant.",
    404: "Unknown id (or another tenant's), or an unknown page cursor.",
    408: "The request body did not arrive in time.",
    413: "The request body is too large.",
    415: "Unsupported Content-Type for the request body.",
    429: "Rate limited; see Retry-After.",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema with the project's list and error rules."""

    def _get_paginator(self) -> BasePagination | None:
        pagination_class = pagination_class_of(self.view)
        return pagination_class() if pagination_class else None

    def _common_error_codes(self) -> list[int]:
        codes = [400]
        if self.view.get_authenticators():
            codes += [401, 403]
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            codes.append(404)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes += [408, 413, 415]
        if self.view.get_throttles():
            codes.append(429)
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._common_error_codes():
            if str(code) not in responses:
                declared = OpenApiResponse(ErrorSerializer, description=COMMON_ERRORS[code])
                responses[str(code)] = self._get_response_for_code(declared, str(code), direction=direction)
        return dict(sorted(responses.items()))
