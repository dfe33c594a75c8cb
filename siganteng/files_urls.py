"""Local-file signed URLs (the embedded default's stand-in for presigned S3 URLs).

``GET /files/d/<token>`` streams the file the token names; ``PUT /files/u/<token>``
stores the request body at the token's key (up to the token's size limit). Tokens are
Django-signed and expire; a forged or expired token is 403, a missing file 404, both in
the API's error shape.
"""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from siganteng import storage
from siganteng.errors import error_body


def _token_error(exc: storage.BadToken) -> JsonResponse:
    code = "link_expired" if exc.expired else "link_invalid"
    return JsonResponse(error_body(code, str(exc)), status=403)


@require_http_methods(["GET", "HEAD"])
def download(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = storage.read_token(token, op="get")
    except storage.BadToken as exc:
        return _token_error(exc)
    key = data["k"]
    if not default_storage.exists(key):
        return JsonResponse(error_body("not_found", "The file does not exist."), status=404)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    filename = data.get("fn") or key.rsplit("/", 1)[-1]
    return FileResponse(
        default_storage.open(key, "rb"), content_type=content_type, as_attachment=True, filename=filename
    )


@csrf_exempt
@require_http_methods(["PUT"])
def upload(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = storage.read_token(token, op="put")
    except storage.BadToken as exc:
        return _token_error(exc)
    limit = int(data.get("max") or 0)
    declared = request.headers.get("Content-Length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        return JsonResponse(
            error_body("too_large", f"The upload exceeds {limit} bytes.", {"body": [f"At most {limit} bytes."]}),
            status=413,
        )
    body = request.read(limit + 1) if limit else request.read()
    if limit and len(body) > limit:
        return JsonResponse(error_body("too_large", f"The upload exceeds {limit} bytes."), status=413)
    storage.save(data["k"], body, content_type=data.get("ct") or "application/octet-stream")
    return HttpResponse(status=200)


urlpatterns = [
    path("d/<str:token>", download, name="files-download"),
    path("u/<str:token>", upload, name="files-upload"),
]
