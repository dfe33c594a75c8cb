"""The WSGI application gunicorn serves.

Everything a worker loads at start (Django, the apps, the URLconf with every view) lives
as long as the worker, so it is moved out of the garbage collector's sight
(``gc.freeze``): a full collection, which a request's short-lived objects trigger from
time to time, then walks only what requests created instead of the whole application,
and the slowest requests (a ``/metrics`` scrape among them) stop paying for it.

A client that sends its headers and then stalls its body would hold a worker thread for
as long as it likes: the body is read from the socket with a timeout of
``WEB_BODY_TIMEOUT`` seconds between bytes (:class:`TimedInput`), after which the read
fails and the request is answered 400. Production still wants a buffering proxy in front
(it reads whole bodies before passing them on); see the operations guide.

Django reads a request body only as far as ``Content-Length`` says, so a body sent with
``Transfer-Encoding: chunked`` (and no length) would reach the views as empty and be
answered "field required". :class:`ChunkedBodies` reads such a body first, up to
``DATA_UPLOAD_MAX_MEMORY_SIZE``, and hands it on with its length; a longer one is
answered 413 in the API's error shape.
"""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")


class TimedInput:
    """``wsgi.input`` whose reads give up after ``timeout`` seconds without data."""

    def __init__(self, stream: Any, sock: Any, timeout: float):
        self.stream, self.sock, self.timeout = stream, sock, timeout

    def _timed(self, method: str, *args: Any) -> Any:
        self.sock.settimeout(self.timeout)
        try:
            return getattr(self.stream, method)(*args)
        finally:
            self.sock.settimeout(None)  # gunicorn's own writes stay blocking, as it set them

    def read(self, *args: Any) -> bytes:
        return self._timed("read", *args)

    def readline(self, *args: Any) -> bytes:
        return self._timed("readline", *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._timed("readlines", *args)

    def __iter__(self):
        return iter(self.readline, b"")


class ChunkedBodies:
    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is not None and settings.WEB_BODY_TIMEOUT:
            environ["wsgi.input"] = TimedInput(environ["wsgi.input"], sock, settings.WEB_BODY_TIMEOUT)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                data = JsonResponse(error_body("request_too_large", "Request body too large.")).content
                start_response(
                    "413 Request Entity Too Large",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")],
                )
                return [data]
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after Django is set up
from django.http import JsonResponse  # noqa: E402

from siganteng.errors import error_body  # noqa: E402

application = ChunkedBodies(django_application)

import_module(settings.ROOT_URLCONF)  # every view module, now rather than at the first request
gc.collect()
gc.freeze()
