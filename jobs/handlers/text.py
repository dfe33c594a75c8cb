"""Text generation and summarisation through the LLM adapters."""

from __future__ import annotations

from jobs.handlers import _llm
from jobs.handlers.base import JobContext, PermanentJobError
from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest

SUMMARY_SYSTEM = {
    "en": "Summarise the user's text faithfully in at most {n} sentences. Do not add facts.",
    "id": "Ringkas teks pengguna dengan setia dalam paling banyak {n} kalimat. Jangan menambah fakta.",
}


def _result(resp) -> dict:
    out = {"text": resp.text, "provider": resp.provider, "model": resp.model, "usage": _llm.usage(resp)}
    label = getattr(resp, "label", "")
    if label:
        out["label"] = label
    if getattr(resp, "fallback_from", None):
        out["fallback_from"] = resp.fallback_from
    return out


def generate_text(ctx: JobContext) -> dict:
    if not ctx.prompt.strip():
        raise PermanentJobError("The prompt is empty.")
    ctx.progress(10, "Calling the language model.")
    request = LLMRequest(
        model=_llm.model_name(ctx),
        system=str(ctx.params.get("system") or ctx.tenant.persona or "You are a helpful assistant."),
        messages=[ChatMessage(role="user", content=ctx.prompt)],
        temperature=float(ctx.params.get("temperature", ctx.tenant.llm_temperature)),
        max_tokens=ctx.params.get("max_tokens"),
        # The offline provider answers by quoting passages; the prompt is the only text it has.
        passages=[ContextPassage(id="prompt", document_id="prompt", title="Prompt", text=ctx.prompt)],
        locale=ctx.params.get("language") or ctx.tenant.locale or "en",
    )
    resp = _llm.call(ctx, request)
    ctx.progress(90, "Generated.")
    return _result(resp)


def summarize(ctx: JobContext) -> dict:
    if not ctx.prompt.strip():
        raise PermanentJobError("There is no text to summarise (the prompt is empty).")
    lang = (ctx.params.get("language") or ctx.tenant.locale or "en")[:2]
    sentences = int(ctx.params.get("max_sentences") or 3)
    ctx.progress(10, "Summarising.")
    request = LLMRequest(
        model=_llm.model_name(ctx),
        system=SUMMARY_SYSTEM.get(lang, SUMMARY_SYSTEM["en"]).format(n=sentences),
        messages=[ChatMessage(role="user", content=ctx.prompt)],
        temperature=0.2,
        max_tokens=ctx.params.get("max_tokens"),
        passages=[ContextPassage(id="text", document_id="text", title="Text", text=ctx.prompt)],
        locale=lang,
    )
    resp = _llm.call(ctx, request)
    ctx.progress(90, "Summarised.")
    return _result(resp)
