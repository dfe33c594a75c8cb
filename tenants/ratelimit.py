"""Per-tenant request counting in one-minute windows, shared by every process.

A tenant's limit (``Tenant.rate_limit_per_minute``) holds for the tenant as a whole, however
many keys it mints, and across every web process:

- with ``REDIS_URL`` (production): a Redis counter per tenant and window, through Django's
  cache (``add`` is ``SET NX``, ``incr`` is ``INCRBY``: both atomic);
- on the embedded default: a row per tenant and window in the database every process
  shares, counted by a conditional ``UPDATE … WHERE count < limit`` (atomic on SQLite and
  PostgreSQL).

Windows are fixed (the clock's minutes), so ``Retry-After`` is the time left in the
current one. A store that cannot be reached fails open: the request passes and a warning
is logged (at most once a minute per process), so a cache outage never takes the API down.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from redis.exceptions import RedisError

from tenants.models import RateWindow

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_warned_at = 0.0
_warn_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the current window ends


def _redis_hit(tenant_id: str, window: int, limit: int) -> bool:
    key = f"ratelimit:{tenant_id}:{window}"
    cache.add(key, 0, timeout=2 * WINDOW_SECONDS)
    return cache.incr(key) <= limit


def _database_hit(tenant_id: str, window: int, limit: int) -> bool:
    def take() -> bool:
        return bool(
            RateWindow.objects.filter(tenant_id=tenant_id, window=window, count__lt=limit).update(count=F("count") + 1)
        )

    if take():
        return True
    if RateWindow.objects.filter(tenant_id=tenant_id, window=window).exists():
        return False  # the window is full
    try:
        with transaction.atomic():
            RateWindow.objects.create(tenant_id=tenant_id, window=window, count=1)
            RateWindow.objects.filter(tenant_id=tenant_id, window__lt=window - 1).delete()
        return True
    except IntegrityError:
        return take()  # another process opened the window first


def _warn(exc: Exception) -> None:
    global _warned_at
    with _warn_lock:
        if time.monotonic() - _warned_at < 60:
            return
        _warned_at = time.monotonic()
    logger.warning("Rate limiting is off until its store answers again: %s: %s", type(exc).__name__, exc)


def hit(*, tenant_id: str, limit: int, now: float | None = None) -> Decision:
    """Count one request of ``tenant_id`` and say whether it is within ``limit`` a minute."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    store = _redis_hit if settings.REDIS_URL else _database_hit
    try:
        return Decision(store(tenant_id, window, limit), retry_after)
    except (RedisError, DatabaseError, OSError) as exc:
        _warn(exc)
        return Decision(True, 0)
