"""The tenant's rate limit holds under concurrency, across processes and keys, and a
store outage never takes the API down."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys

import httpx
import pytest

from siganteng.testing import run_concurrently, subprocess_env, wait_until
from tenants import ratelimit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_the_limit_through_under_concurrency(make_tenant, make_key):
    from rest_framework.test import APIClient

    small = make_tenant("small", rate_limit_per_minute=5)
    keys = [make_key(small) for _ in range(4)]  # more keys give no more allowance

    def call(i: int) -> int:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=keys[i % len(keys)])
        return client.get(f"/api/v1/tenants/{small.pk}/settings").status_code

    codes = run_concurrently(call, 20)
    assert codes.count(200) == 5, codes
    assert codes.count(429) == 15, codes


@pytest.mark.django_db
def test_windows_are_per_tenant_and_per_minute(make_tenant):
    a, b = make_tenant("a"), make_tenant("b")
    t0 = 1_800_000_000.0  # a window boundary (divisible by 60)
    assert [ratelimit.hit(tenant_id=a.pk, limit=2, now=t0 + i).allowed for i in range(3)] == [True, True, False]
    assert ratelimit.hit(tenant_id=b.pk, limit=2, now=t0 + 3).allowed
    refused = ratelimit.hit(tenant_id=a.pk, limit=2, now=t0 + 45.5)
    assert not refused.allowed and refused.retry_after == 15
    assert ratelimit.hit(tenant_id=a.pk, limit=2, now=t0 + 60).allowed  # the next minute


@pytest.mark.django_db
def test_a_store_outage_fails_open_with_a_warning(make_tenant, make_key, settings, caplog):
    from rest_framework.test import APIClient

    small = make_tenant("small", rate_limit_per_minute=1)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_key(small))
    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    ratelimit._warned_at = 0.0
    with caplog.at_level(logging.WARNING, logger="tenants.ratelimit"):
        codes = [client.get(f"/api/v1/tenants/{small.pk}/settings").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    warnings = [r for r in caplog.records if r.name == "tenants.ratelimit"]
    assert len(warnings) == 1 and "Rate limiting is off" in warnings[0].getMessage()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_web_processes(make_tenant, make_key):
    """Two gunicorn workers, 20 concurrent requests at 5 a minute: exactly 5 pass."""
    small = make_tenant("small", rate_limit_per_minute=5)
    key = make_key(small)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "siganteng.wsgi:application",
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=subprocess_env(ALLOWED_HOSTS="127.0.0.1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=30, message="gunicorn to answer")

        def call(_i: int) -> int:
            return httpx.get(
                f"{url}/api/v1/tenants/{small.pk}/settings", headers={"X-API-Key": key}, timeout=30
            ).status_code

        codes = run_concurrently(call, 20)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert codes.count(200) == 5, codes
    assert codes.count(429) == 15, codes
