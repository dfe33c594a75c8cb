"""Bodies as a real web server hands them over: a chunked body is read, not dropped; an
oversized one is refused 413 in the error shape."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest

from knowledge.models import Document
from siganteng.testing import subprocess_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gunicorn():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "siganteng.wsgi:application", "--bind", f"127.0.0.1:{port}"],
        env=subprocess_env(ALLOWED_HOSTS="127.0.0.1", DATA_UPLOAD_MAX_MEMORY_SIZE="65536"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30, message="gunicorn to answer")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_chunked_json_body_is_read(gunicorn, tenant, make_key):
    body = json.dumps({"external_id": "kirim", "title": "Pengiriman", "body": "Barang dikirim setiap hari."}).encode()
    resp = httpx.post(
        f"{gunicorn}/api/v1/kb/upsert",
        content=_chunks(body, 16),  # an iterator: httpx sends Transfer-Encoding: chunked
        headers={"X-API-Key": make_key(tenant), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.request.headers.get("transfer-encoding") == "chunked"
    assert resp.status_code in (200, 201), resp.text
    assert Document.objects.filter(tenant=tenant, external_id="kirim").exists()


def test_an_oversized_chunked_body_is_413_in_the_error_shape(gunicorn, tenant, make_key):
    body = json.dumps({"external_id": "x", "title": "x", "body": "y" * 100_000}).encode()
    resp = httpx.post(
        f"{gunicorn}/api/v1/kb/upsert",
        content=_chunks(body),
        headers={"X-API-Key": make_key(tenant), "Content-Type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "request_too_large"
    assert not Document.objects.exists()


def test_a_stalled_body_frees_the_only_thread_after_the_body_timeout(tenant, make_key):
    """One worker, one thread: a client that stops sending its body mid-way would hold
    the thread (and /healthz) until it disconnected; with the body timeout it is answered
    and the thread serves others."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "siganteng.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            "1",
        ],
        env=subprocess_env(ALLOWED_HOSTS="127.0.0.1", WEB_BODY_TIMEOUT="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), timeout=30, message="gunicorn to answer")
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /api/v1/kb/upsert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + make_key(tenant).encode() + b'\r\nContent-Length: 1000\r\n\r\n{"external_id":'
        )
        # The stalled client is answered, with a client error, while it still holds the socket open.
        slow.settimeout(15)
        answer = slow.recv(200)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert httpx.get(f"{url}/healthz", timeout=15).status_code == 200
        slow.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert not Document.objects.exists()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
