"""Storage URLs: real presigned S3 URLs against moto's S3 server on loopback, and
Django-signed local URLs served by the app."""

from __future__ import annotations

import time

import boto3
import httpx
import pytest
from django.core.files.storage import default_storage
from django.test import Client

from siganteng import storage

BUCKET = "siganteng-test"


@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_server):
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": moto_server,
        "access_key": "testing",
        "secret_key": "testing",
        "region_name": "us-east-1",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "querystring_expire": 3600,
        "default_acl": None,
        "file_overwrite": True,
    }
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    return client


def test_it_presigns_s3_put_and_get_urls_that_plain_http_can_use(s3):
    up = storage.upload_url("tenants/acme/uploads/a/hello.txt", content_type="text/plain", max_bytes=100)
    assert "X-Amz-Signature=" in up.url
    put = httpx.put(up.url, content=b"hello s3", headers=up.headers)
    assert put.status_code == 200, put.text
    obj = s3.get_object(Bucket=BUCKET, Key="tenants/acme/uploads/a/hello.txt")
    assert obj["Body"].read() == b"hello s3" and obj["ContentType"] == "text/plain"

    url = storage.download_url("tenants/acme/uploads/a/hello.txt", filename="hello.txt")
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == b"hello s3"
    assert storage.stat("tenants/acme/uploads/a/hello.txt").size == 8


def test_it_presigns_s3_urls_with_the_requested_expiry(s3):
    """moto 5.2 does not enforce presigned expiry (real S3 and MinIO answer 403 "Request has
    expired"), so this checks the SigV4 parameters the server would enforce."""
    import datetime as dt
    from urllib.parse import parse_qs, urlsplit

    storage.save("k/expiring.txt", b"soon gone", content_type="text/plain")
    url = storage.download_url("k/expiring.txt", expires=1)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["1"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    signed_at = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert abs((dt.datetime.now(dt.UTC) - signed_at).total_seconds()) < 5
    assert httpx.get(url).status_code == 200
    hour = parse_qs(urlsplit(storage.download_url("k/expiring.txt")).query)
    assert hour["X-Amz-Expires"] == ["3600"]


@pytest.mark.django_db
def test_it_runs_a_job_with_s3_storage_end_to_end(s3, client_a, catalog):
    from jobs import services

    ticket = client_a.post("/api/v1/jobs/upload-ticket", {"filename": "in.txt", "content_type": "text/plain"}).json()
    assert httpx.put(ticket["upload_url"], content=b"input", headers=ticket["headers"]).status_code == 200
    created = client_a.post(
        "/api/v1/jobs/",
        {"model": "echo", "prompt": "out", "input_keys": [ticket["key"]], "input_params": {"write_output": True}},
        format="json",
    ).json()
    job_id = created["id"]
    assert [(a["kind"], a["key"], a["size"]) for a in created["artifacts"]] == [("input", ticket["key"], 5)]
    assert services.job_run(job_id=job_id) == "SUCCEEDED"
    url = client_a.get(f"/api/v1/jobs/{job_id}/download").json()["url"]
    assert httpx.get(url).content == b"out"
    assert default_storage.exists(ticket["key"])


def test_it_serves_a_local_signed_download_and_refuses_forged_or_expired_links(local_files, settings):
    storage.save("tenants/acme/x/report.txt", b"local bytes", content_type="text/plain")
    url = storage.download_url("tenants/acme/x/report.txt", base_url="http://testserver")
    path = url.removeprefix("http://testserver")
    resp = Client().get(path)
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == b"local bytes"
    assert 'filename="report.txt"' in resp["Content-Disposition"]

    forged = Client().get(path[:-3] + ("abc" if not path.endswith("abc") else "xyz"))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "link_invalid"
    upload_token = storage.upload_url(
        "tenants/acme/x/report.txt", content_type="text/plain", max_bytes=10, base_url="http://testserver"
    ).url.rsplit("/", 1)[-1]
    assert Client().get(f"/files/d/{upload_token}").status_code == 403  # a PUT link cannot read

    expiring = storage.download_url("tenants/acme/x/report.txt", expires=1, base_url="http://testserver")
    time.sleep(2.1)
    resp = Client().get(expiring.removeprefix("http://testserver"))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "link_expired"

    gone = storage.download_url("tenants/acme/x/missing.txt", base_url="http://testserver")
    resp = Client().get(gone.removeprefix("http://testserver"))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_it_accepts_a_local_signed_upload_once_per_key_and_refuses_an_expired_one(local_files):
    up = storage.upload_url(
        "tenants/acme/up/a.bin", content_type="application/octet-stream", max_bytes=100, base_url="http://testserver"
    )
    resp = Client().generic(
        "PUT", up.url.removeprefix("http://testserver"), b"payload", content_type="application/octet-stream"
    )
    assert resp.status_code == 200
    assert storage.open_bytes("tenants/acme/up/a.bin") == b"payload"
    late = storage.upload_url(
        "tenants/acme/up/b.bin", content_type="a/b", max_bytes=100, expires=1, base_url="http://testserver"
    )
    time.sleep(2.1)
    resp = Client().generic("PUT", late.url.removeprefix("http://testserver"), b"x", content_type="a/b")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "link_expired"
    assert not storage.exists("tenants/acme/up/b.bin")
