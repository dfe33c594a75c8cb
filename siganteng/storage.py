"""Files in the default storage and expiring URLs to read or write them directly.

On S3/MinIO (django-storages' S3Storage) the URLs are real presigned GET and PUT URLs
signed by boto3; on local files they are Django-signed tokens served by
``siganteng.files_urls`` (``/files/d/<token>`` to download, ``/files/u/<token>`` to
upload with PUT). Either way a URL names exactly one key, one operation and an expiry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, BinaryIO

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

SIGNING_SALT = "siganteng.files"


@dataclass
class UploadUrl:
    url: str
    method: str
    headers: dict[str, str]


@dataclass
class Stat:
    size: int
    sha256: str


def _is_s3(storage=None) -> bool:
    storage = storage or default_storage
    # The S3 backend is the only one with a bucket; no other backend is special-cased.
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def _signer() -> Any:
    """The boto3 client that signs URLs: the storage's own, or with
    ``AWS_S3_PUBLIC_ENDPOINT_URL`` one naming the endpoint clients reach (MinIO inside
    docker compose is ``http://minio:9000`` to the app and ``http://localhost:9000`` to a
    browser). A SigV4 signature covers the host, so a URL cannot be rewritten afterwards:
    it has to be signed for the public endpoint."""
    client = default_storage.connection.meta.client
    public = getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", "") or ""
    if not public:
        return client
    return _public_client(
        public,
        client.meta.region_name,
        default_storage.access_key,
        default_storage.secret_key,
        default_storage.signature_version or "s3v4",
        default_storage.addressing_style,
    )


@lru_cache(maxsize=4)
def _public_client(
    endpoint: str, region: str, access_key: str | None, secret_key: str | None, signature: str, style: str | None
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(signature_version=signature, s3={"addressing_style": style} if style else {}),
    )


def _base(base_url: str | None) -> str:
    return (base_url or settings.PUBLIC_BASE_URL).rstrip("/")


def save(key: str, data: bytes, *, content_type: str = "application/octet-stream") -> str:
    """Write ``data`` at exactly ``key`` (overwriting) and return the key."""
    if default_storage.exists(key):
        default_storage.delete(key)
    content = ContentFile(data)
    content.content_type = content_type  # S3Storage sends it as the object's Content-Type
    saved = default_storage.save(key, content)
    return saved


def open_bytes(key: str, *, max_bytes: int | None = None) -> bytes:
    with default_storage.open(key, "rb") as fh:
        data = fh.read(max_bytes + 1 if max_bytes else -1)
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(f"{key} is larger than {max_bytes} bytes")
    return data


def exists(key: str) -> bool:
    return default_storage.exists(key)


def delete(key: str) -> None:
    default_storage.delete(key)


def stat(key: str) -> Stat:
    """Size and SHA-256 of a stored object (read once, streamed)."""
    digest = hashlib.sha256()
    size = 0
    with default_storage.open(key, "rb") as fh:
        fh: BinaryIO
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return Stat(size=size, sha256=digest.hexdigest())


def download_url(
    key: str, *, expires: int | None = None, base_url: str | None = None, filename: str | None = None
) -> str:
    """A URL that lets anyone holding it GET ``key`` for ``expires`` seconds."""
    expires = expires or settings.SIGNED_URL_MAX_AGE
    if _is_s3():
        params = {"ResponseContentDisposition": f'attachment; filename="{filename}"'} if filename else None
        if not getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", ""):
            return default_storage.url(key, parameters=params, expire=expires)
        return _signer().generate_presigned_url(
            "get_object",
            Params={"Bucket": default_storage.bucket_name, "Key": key, **(params or {})},
            ExpiresIn=expires,
        )
    token = signing.dumps({"k": key, "op": "get", "ttl": expires, "fn": filename or ""}, salt=SIGNING_SALT)
    return _base(base_url) + reverse("files-download", args=[token])


def upload_url(
    key: str, *, content_type: str, max_bytes: int, expires: int | None = None, base_url: str | None = None
) -> UploadUrl:
    """A URL that lets anyone holding it PUT one object at ``key`` for ``expires`` seconds.

    A presigned S3 PUT cannot cap the body size, so callers check the stored size before
    they use an uploaded object (jobs do, when a job references the key)."""
    expires = expires or settings.SIGNED_URL_MAX_AGE
    headers = {"Content-Type": content_type}
    if _is_s3():
        url = _signer().generate_presigned_url(
            "put_object",
            Params={"Bucket": default_storage.bucket_name, "Key": key, "ContentType": content_type},
            ExpiresIn=expires,
            HttpMethod="PUT",
        )
        return UploadUrl(url=url, method="PUT", headers=headers)
    token = signing.dumps(
        {"k": key, "op": "put", "ttl": expires, "ct": content_type, "max": max_bytes}, salt=SIGNING_SALT
    )
    return UploadUrl(url=_base(base_url) + reverse("files-upload", args=[token]), method="PUT", headers=headers)


class BadToken(Exception):
    """The token is forged, malformed, for another operation, or expired (``expired``)."""

    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def read_token(token: str, *, op: str) -> dict:
    """Check a local signed URL's token: signature, operation and age."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=None)
    except signing.BadSignature:
        raise BadToken("The link is invalid.") from None
    if not isinstance(data, dict) or data.get("op") != op or not isinstance(data.get("k"), str):
        raise BadToken("The link is invalid.")
    try:
        signing.loads(token, salt=SIGNING_SALT, max_age=int(data.get("ttl") or settings.SIGNED_URL_MAX_AGE))
    except signing.SignatureExpired:
        raise BadToken("The link has expired.", expired=True) from None
    return data
