"""The one entry point callers use to talk to a language model.

``generate``/``stream`` resolve the provider through the registry (never by comparing
names), fill in the provider's default model when the request names none, and, when
the provider fails with a non-permanent :class:`ProviderError` (after its own retries),
answer through the fallback provider instead. A permanent error (bad key, bad request)
is raised as is: another provider would not make a broken request right, and hiding a
misconfiguration behind a fallback would keep it from being fixed.

The response names whoever actually answered (``provider``/``model``) and, when the
fallback answered, ``fallback_from`` names the provider that failed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

from siganteng import metrics
from siganteng.ai.base import LLMRequest, LLMResponse, ProviderError, StreamEvent
from siganteng.ai.registry import get_llm

log = logging.getLogger(__name__)


def default_model(provider: str) -> str:
    """The model ``provider`` uses when a request names none (from settings)."""
    return get_llm(provider).default_model


def _with_model(request: LLMRequest, model: str | None) -> LLMRequest:
    return dataclasses.replace(request, model=model) if model and model != request.model else request


def _prepared(request: LLMRequest, provider: str) -> LLMRequest:
    return request if request.model else _with_model(request, default_model(provider))


def _should_fall_back(exc: ProviderError, provider: str, fallback: str | None) -> bool:
    return bool(fallback) and fallback != provider and not exc.permanent


def generate(
    request: LLMRequest, *, provider: str, fallback: str | None = None, fallback_model: str | None = None
) -> LLMResponse:
    """Answer ``request`` with ``provider``; on a transient failure use ``fallback``
    (with ``fallback_model`` or its default model). Raises :class:`ProviderError`."""
    started = time.perf_counter()
    outcome = "error"
    try:
        response = get_llm(provider).generate(_prepared(request, provider))
        outcome = "ok"
        return response
    except ProviderError as exc:
        if not _should_fall_back(exc, provider, fallback):
            raise
        log.warning("LLM provider %s failed (%s); falling back to %s", provider, exc, fallback)
        fallback_request = _with_model(request, fallback_model or default_model(fallback))
        response = get_llm(fallback).generate(fallback_request)
        response.fallback_from = provider
        outcome = "fallback"
        return response
    finally:
        metrics.llm_call(provider=provider, outcome=outcome, seconds=time.perf_counter() - started)


def stream(
    request: LLMRequest, *, provider: str, fallback: str | None = None, fallback_model: str | None = None
) -> Iterator[StreamEvent]:
    """Stream ``request``: ``delta`` events, then one ``done`` with the whole response.

    The fallback is used only when the provider fails before its first event; once text
    has reached the caller, switching models mid-answer would splice two different
    answers together, so a later failure is raised to the caller instead.
    """
    started = False
    clock = time.perf_counter()
    outcome = "error"
    try:
        try:
            for event in get_llm(provider).stream(_prepared(request, provider)):
                started = True
                yield event
            outcome = "ok"
            return
        except ProviderError as exc:
            if started or not _should_fall_back(exc, provider, fallback):
                raise
            log.warning("LLM provider %s failed (%s); streaming from fallback %s", provider, exc, fallback)
        fallback_request = _with_model(request, fallback_model or default_model(fallback))
        for event in get_llm(fallback).stream(fallback_request):
            if event.response is not None:
                event.response.fallback_from = provider
            yield event
        outcome = "fallback"
    finally:
        # The whole stream, first token to last, as the customer waits for it.
        metrics.llm_call(provider=provider, outcome=outcome, seconds=time.perf_counter() - clock)
