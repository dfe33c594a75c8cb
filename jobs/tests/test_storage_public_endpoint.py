"""Presigned URLs name AWS_S3_PUBLIC_ENDPOINT_URL when it is set: the store as clients
outside docker compose reach it, not as the app does."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from jobs.tests.test_storage import BUCKET, moto_server, s3  # noqa: F401  (fixtures)
from siganteng import storage


def test_it_signs_urls_for_the_public_endpoint(s3, moto_server, settings):  # noqa: F811
    internal = urlsplit(moto_server)
    # The same server under another name, as "minio:9000" and "localhost:9000" are.
    public = f"http://localhost:{internal.port}"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = public
    up = storage.upload_url("tenants/acme/uploads/p/in.txt", content_type="text/plain", max_bytes=100)
    assert up.url.startswith(public + "/") and internal.hostname not in up.url
    assert httpx.put(up.url, content=b"from outside", headers=up.headers).status_code == 200
    down = storage.download_url("tenants/acme/uploads/p/in.txt", filename="in.txt")
    assert down.startswith(public + "/")
    got = httpx.get(down)
    assert got.status_code == 200 and got.content == b"from outside"
    assert 'filename="in.txt"' in got.headers.get("content-disposition", "")
    assert s3.get_object(Bucket=BUCKET, Key="tenants/acme/uploads/p/in.txt")["Body"].read() == b"from outside"


def test_without_a_public_endpoint_urls_name_the_storage_endpoint(s3, moto_server, settings):  # noqa: F811
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = ""
    assert storage.download_url("k/x.txt").startswith(moto_server + "/")
