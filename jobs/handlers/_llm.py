"""Calling the tenant's (or the catalog model's) LLM provider from a handler."""

from __future__ import annotations

from jobs.handlers.base import JobContext
from siganteng.ai import llm
from siganteng.ai.base import LLMRequest, LLMResponse
from siganteng.ai.registry import get_llm


def provider_for(ctx: JobContext) -> tuple[str, str | None, str | None]:
    """(provider, fallback, fallback_model): the catalog model's provider when it names
    one, else the tenant's choice with its fallback."""
    if ctx.model.provider:
        return ctx.model.provider, None, None
    tenant = ctx.tenant
    return tenant.llm_provider, (tenant.llm_fallback_provider or None), (tenant.llm_fallback_model or None)


def is_offline(ctx: JobContext) -> bool:
    return bool(getattr(get_llm(provider_for(ctx)[0]), "offline", False))


def model_name(ctx: JobContext) -> str:
    return str(ctx.params.get("llm_model") or ("" if ctx.model.provider else ctx.tenant.llm_model) or "")


def call(ctx: JobContext, request: LLMRequest) -> LLMResponse:
    provider, fallback, fallback_model = provider_for(ctx)
    return llm.generate(request, provider=provider, fallback=fallback, fallback_model=fallback_model)


def usage(resp: LLMResponse) -> dict:
    return {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens}
