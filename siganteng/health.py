"""Liveness and readiness probes."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from siganteng.errors import error_body
from siganteng.models import ClusterHeartbeat

HEARTBEAT_MAX_AGE_SECONDS = 180


def require_GET(view):
    """Like Django's, but a wrong method gets the API error shape (405 with Allow)."""

    def wrapped(request: HttpRequest, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                error_body("method_not_allowed", f'Method "{request.method}" not allowed.'), status=405
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2), **(detail or {})}
    except Exception as exc:  # a probe reports failures, it must not raise them
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict:
    cache.set("readyz", "1", 10)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return the value just written")
    return {}


def _broker() -> dict:
    from siganteng.queue import broker

    b = broker()
    if not b.ping():
        raise RuntimeError("broker did not answer")
    return {"kind": "redis" if settings.REDIS_URL else "orm"}


def _cluster() -> dict:
    beat = ClusterHeartbeat.objects.filter(name=settings.Q_CLUSTER["name"]).first()
    if beat is None:
        raise RuntimeError("no heartbeat from the task cluster yet")
    age = (timezone.now() - beat.beat_at).total_seconds()
    if age > HEARTBEAT_MAX_AGE_SECONDS:
        raise RuntimeError(f"last heartbeat {age:.0f} s ago (limit {HEARTBEAT_MAX_AGE_SECONDS} s)")
    return {"heartbeat_age_seconds": round(age, 1), "host": beat.host}


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check(_database),
        "cache": _check(_cache),
        "broker": _check(_broker),
        "cluster": _check(_cluster),
    }
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
