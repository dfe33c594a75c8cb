"""Request middleware: the request id, and the HTTP metrics.

The request id is taken from ``X-Request-Id`` when a proxy set one, else generated. It is
echoed in the response header, attached to log records, carried into every task the
request enqueues (siganteng.queue) and sent on outbound calls (siganteng.http), and put
in 500 bodies so an operator can find the stack trace of a failed request in the logs.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from siganteng import metrics

_current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    """The id of the request (or task) this code runs for; ``-`` outside both."""
    return _current_request_id.get()


def bind_request_id(request_id: str) -> contextvars.Token:
    """Make ``request_id`` current (a task adopting its request's id); undo with
    :func:`unbind_request_id`."""
    return _current_request_id.set(request_id)


def unbind_request_id(token: contextvars.Token) -> None:
    _current_request_id.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response["X-Request-Id"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Puts ``request_id`` on every record: the current one, or for Django's own request
    log (written after the middleware returned) the id stored on its request."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current_request_id.get()
        if request_id == "-":
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


class MetricsMiddleware:
    """Counts and times every request by its resolved route (the URL pattern's name, or
    the pattern itself when it has none; ``unmatched`` for URLs that resolve to nothing),
    never by its raw path: paths carry ids and channel secrets, and one series per path
    would be unbounded."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        route = _route(request)
        method = request.method if request.method in _METHODS else "other"
        metrics.http_request(
            route=route,
            method=method,
            status=response.status_code,
            seconds=seconds,
            tenant_id=_tenant_id(request) if metrics.TENANT_LABEL else None,
        )
        # The access line (the server's own would print raw paths, which carry secrets).
        access_log.info(
            "%s %s %s %.1f ms",
            method,
            route,
            response.status_code,
            seconds * 1000,
            extra={"route": route, "method": method, "status": response.status_code, "ms": round(seconds * 1000, 1)},
        )
        return response


access_log = logging.getLogger("siganteng.access")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name if match.url_name else (match.route or "unmatched")


def _tenant_id(request: HttpRequest) -> str | None:
    # DRF puts the authenticated principal (a tenant key's) on the request as ``user``;
    # the admin's lazy session user is left unevaluated (it would cost a query).
    user = request.__dict__.get("user")
    if user is None or isinstance(user, SimpleLazyObject):
        return None
    return getattr(user, "tenant_id", None)
