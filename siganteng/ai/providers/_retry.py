"""Shared plumbing for the remote adapters: status → permanence, bounded retries with
backoff, and the client cache.

The SDKs' own retry loops are switched off so both adapters retry the same way, bounded
by ``settings.LLM_MAX_RETRIES`` (retries after the first attempt) with exponential
backoff from ``settings.LLM_RETRY_BACKOFF`` seconds (jittered, capped at
``MAX_DELAY``; a server's ``Retry-After`` is honoured up to the same cap).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from django.conf import settings

from siganteng.ai.base import ProviderError

log = logging.getLogger("siganteng.ai")

T = TypeVar("T")

MAX_DELAY = 8.0
#: 4xx statuses that a later attempt can succeed on (timeout, conflict, too early, rate limit)
TRANSIENT_4XX = frozenset({408, 409, 425, 429})


def is_permanent_status(status: int) -> bool:
    """4xx (bad request, bad key, forbidden, unknown model) will fail again; 429/5xx may not."""
    return 400 <= status < 500 and status not in TRANSIENT_4XX


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Read ``retry-after-ms`` (OpenAI) or ``retry-after`` (seconds) from response headers."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue  # an HTTP date: rare for these APIs, fall back to our own backoff
        if seconds >= 0:
            return seconds
    return None


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based)."""
    if retry_after is not None:
        return min(retry_after, MAX_DELAY)
    base = float(settings.LLM_RETRY_BACKOFF)
    return min(base * (2**attempt), MAX_DELAY) * random.uniform(0.5, 1.0)


def should_retry(error: ProviderError) -> bool:
    """Transient HTTP statuses, timeouts and dropped connections are retried. A malformed
    reply is not: it is marked non-permanent (a fallback may answer) but repeating the
    same request to a server speaking the wrong format rarely helps and doubles the cost."""
    return not error.permanent and error.kind in ("status", "timeout", "connection")


def with_retries(call: Callable[[], T], *, to_error: Callable[[Exception], ProviderError | None]) -> T:
    """Run ``call``; map failures with ``to_error`` (``None`` re-raises the original) and
    retry transient ones. The raised ProviderError records how many attempts were made."""
    attempts = int(settings.LLM_MAX_RETRIES) + 1
    for attempt in range(attempts):
        try:
            return call()
        except ProviderError as error:
            failure = error
        except Exception as exc:
            failure = to_error(exc)
            if failure is None:
                raise
            failure.__cause__ = exc
        failure.attempts = attempt + 1
        if attempt + 1 >= attempts or not should_retry(failure):
            raise failure
        delay = backoff_delay(attempt, failure.retry_after)
        log.info(
            "%s call failed (%s); retry %d/%d in %.2fs", failure.provider, failure, attempt + 1, attempts - 1, delay
        )
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def mapped_errors(to_error: Callable[[Exception], ProviderError | None]) -> Iterator[None]:
    """Inside the block (reading a reply or a stream), an SDK or transport exception
    becomes the adapter's ProviderError through ``to_error``; a ProviderError, and anything
    ``to_error`` does not know, passes through unchanged."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        if (error := to_error(exc)) is None:
            raise
        raise error from exc


class ClientCache:
    """Holds one SDK client per configuration. Settings are read on every call, so a
    changed key, base URL or timeout (tests, a reloaded config) builds a new client."""

    def __init__(self, build: Callable[..., Any]):
        self._build = build
        self._key: tuple | None = None
        self._client: Any = None

    def get(self, *config: Any) -> Any:
        if self._key != config or self._client is None:
            self._client = self._build(*config)
            self._key = config
        return self._client
