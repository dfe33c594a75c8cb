"""The llm entry point: registry lookup, default models, fallback on transient failures."""

from __future__ import annotations

import pytest

from siganteng.ai import llm
from siganteng.ai.base import ChatMessage, ContextPassage, LLMRequest, ProviderError


def _request(text: str = "How long do refunds take?") -> LLMRequest:
    return LLMRequest(
        model="",
        system="You are Sari.",
        messages=[ChatMessage(role="user", content=text)],
        passages=[ContextPassage(id="c2", document_id="d2", title="Refunds", text="Refunds take 7 days.")],
    )


def test_it_names_each_providers_default_model(settings):
    settings.OPENAI_DEFAULT_MODEL = "llama3.2"
    settings.GEMINI_DEFAULT_MODEL = "gemini-2.5-flash-lite"
    assert llm.default_model("openai") == "llama3.2"
    assert llm.default_model("gemini") == "gemini-2.5-flash-lite"
    assert llm.default_model("extractive") == "extractive-v1"


def test_it_falls_back_on_a_transient_failure(fake_openai, fake_gemini, settings):
    settings.LLM_MAX_RETRIES = 1
    fake_openai.fail(500, times=2)
    fake_gemini.reply_text("Refunds take a week.")
    response = llm.generate(_request(), provider="openai", fallback="gemini")
    assert (response.provider, response.model, response.fallback_from) == ("gemini", "gemini-2.5-flash", "openai")
    assert response.text == "Refunds take a week."
    assert (fake_openai.calls, fake_gemini.calls) == (2, 1)


def test_it_uses_the_fallback_model_when_given(fake_openai, fake_gemini):
    fake_gemini.fail(503, times=3)
    fake_openai.reply_text("ok")
    response = llm.generate(_request(), provider="gemini", fallback="openai", fallback_model="gpt-4.1-nano")
    assert (response.provider, response.model) == ("openai", "gpt-4.1-nano")
    assert fake_openai.last_body["model"] == "gpt-4.1-nano"


def test_it_does_not_fall_back_on_a_permanent_failure(fake_openai, fake_gemini):
    fake_openai.fail(401)
    with pytest.raises(ProviderError) as info:
        llm.generate(_request(), provider="openai", fallback="gemini")
    assert info.value.permanent
    assert (fake_openai.calls, fake_gemini.calls) == (1, 0)


def test_it_raises_a_transient_failure_when_there_is_no_fallback(fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_openai.fail(429)
    with pytest.raises(ProviderError) as info:
        llm.generate(_request(), provider="openai")
    assert not info.value.permanent and info.value.status == 429


def test_it_falls_back_to_the_offline_extractive_provider(fake_gemini, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_gemini.malformed()
    response = llm.generate(_request(), provider="gemini", fallback="extractive")
    assert (response.provider, response.model, response.fallback_from) == ("extractive", "extractive-v1", "gemini")
    assert "Refunds take 7 days." in response.text


def test_it_falls_back_when_a_stream_fails_before_any_text(fake_openai, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_openai.fail(502)
    events = list(llm.stream(_request(), provider="openai", fallback="extractive"))
    done = events[-1].response
    assert (done.provider, done.fallback_from) == ("extractive", "openai")
    assert "".join(e.text for e in events[:-1]) == done.text


def test_it_streams_from_the_provider_itself_when_it_works(fake_openai):
    fake_openai.reply_text("Seven days.")
    events = list(llm.stream(_request(), provider="openai", fallback="extractive"))
    assert events[-1].response.provider == "openai" and events[-1].response.fallback_from is None
    assert "".join(e.text for e in events[:-1]) == "Seven days."


def test_it_rejects_an_unknown_provider():
    with pytest.raises(KeyError):
        llm.generate(_request(), provider="nope")


def test_it_does_not_switch_providers_once_a_stream_has_sent_text(fake_openai):
    fake_openai.fail_mid_stream("Half an answer")
    stream = llm.stream(_request(), provider="openai", fallback="extractive")
    assert next(stream).text == "Half an answer"
    with pytest.raises(ProviderError):
        list(stream)
