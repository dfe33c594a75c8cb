"""The WSGI application gunicorn serves.

Django reads a request body only as far as ``Content-Length`` says, so a body sent with
``Transfer-Encoding: chunked`` (and no length) would reach the views as empty and be
answered "field required". :class:`ChunkedBodies` reads such a body first, up to
``DATA_UPLOAD_MAX_MEMORY_SIZE``, and hands it on with its length; a longer one is
answered 413 in the API's error shape.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")


class ChunkedBodies:
    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
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
