"""The OpenAI adapter, with the real ``openai`` SDK against the suite's fake server."""

from __future__ import annotations

import base64
import json

import pytest

from siganteng.ai.base import Attachment, ChatMessage, LLMRequest, ProviderError, ToolCall, ToolSpec
from siganteng.ai.providers.openai import OpenAIProvider

QUOTE_TOOL = ToolSpec(
    name="shipping_quote",
    description="Quote a shipping price",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _request(text: str = "Hi there", **kw) -> LLMRequest:
    return LLMRequest(model="", system="You are Sari.", messages=[ChatMessage(role="user", content=text)], **kw)


def test_it_returns_a_plain_reply_with_usage(fake_openai):
    fake_openai.reply_text("Halo! Ada yang bisa dibantu?", usage=(12, 7))
    response = OpenAIProvider().generate(_request(temperature=0.2, max_tokens=50))
    assert response.text == "Halo! Ada yang bisa dibantu?"
    assert (response.provider, response.model) == ("openai", "gpt-4o-mini")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 7)
    assert response.finish_reason == "stop"
    body = fake_openai.last_body
    assert body["messages"][0] == {"role": "system", "content": "You are Sari."}
    assert body["messages"][1] == {"role": "user", "content": "Hi there"}
    assert (body["temperature"], body["max_tokens"]) == (0.2, 50)
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-test-fake"


def test_it_streams_deltas_then_the_whole_response(fake_openai):
    fake_openai.reply_text("One two three four five six seven.", usage=(9, 7))
    events = list(OpenAIProvider().stream(_request()))
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "One two three four five six seven."
    done = events[-1]
    assert done.kind == "done" and done.response.text == "One two three four five six seven."
    assert (done.response.usage.input_tokens, done.response.usage.output_tokens) == (9, 7)
    assert fake_openai.last_body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("streaming", [False, True])
def test_it_returns_tool_calls_and_sends_their_results_back(fake_openai, streaming):
    provider = OpenAIProvider()
    fake_openai.reply_tool_call("shipping_quote", {"city": "Bandung"})
    request = _request("Ongkir ke Bandung?", tools=[QUOTE_TOOL])
    response = list(provider.stream(request))[-1].response if streaming else provider.generate(request)
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("shipping_quote", {"city": "Bandung"})
    assert fake_openai.last_body["tools"][0]["function"]["name"] == "shipping_quote"

    fake_openai.reply_text("Ongkirnya Rp15.000.")
    request.messages += [
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call.id, name=call.name, content='{"price": 15000}'),
    ]
    assert provider.generate(request).text == "Ongkirnya Rp15.000."
    sent = fake_openai.last_body["messages"]
    assert sent[2]["tool_calls"][0] == {
        "id": call.id,
        "type": "function",
        "function": {"name": "shipping_quote", "arguments": '{"city": "Bandung"}'},
    }
    assert sent[3] == {"role": "tool", "tool_call_id": call.id, "content": '{"price": 15000}'}


def test_it_retries_a_429_then_succeeds(fake_openai):
    fake_openai.fail(429).reply_text("ok")
    assert OpenAIProvider().generate(_request()).text == "ok"
    assert fake_openai.calls == 2


def test_it_gives_up_on_500_after_the_configured_attempts(fake_openai, settings):
    settings.LLM_MAX_RETRIES = 2
    fake_openai.fail(500, times=5)
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.status, info.value.attempts) == (False, 500, 3)
    assert fake_openai.calls == 3


def test_it_retries_opening_a_stream_too(fake_openai):
    fake_openai.fail(503).reply_text("streamed")
    assert list(OpenAIProvider().stream(_request()))[-1].response.text == "streamed"
    assert fake_openai.calls == 2


def test_it_times_out_as_a_transient_error(fake_openai, settings):
    settings.LLM_TIMEOUT = 0.2
    settings.LLM_MAX_RETRIES = 0
    fake_openai.delay(1.0)
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.kind) == (False, "timeout")


def test_it_reports_a_malformed_body_once_without_retrying(fake_openai):
    fake_openai.malformed()
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.kind) == (False, "malformed")
    assert fake_openai.calls == 1


def test_it_treats_a_bad_key_as_permanent_without_retrying(fake_openai):
    fake_openai.fail(401, message="Incorrect API key provided")
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.status) == (True, 401)
    assert "Incorrect API key" in str(info.value)
    assert fake_openai.calls == 1


def test_it_asks_for_json_mode(fake_openai):
    fake_openai.reply_json({"title": "Kopi"})
    response = OpenAIProvider().generate(_request("Beri judul", response_format="json"))
    assert json.loads(response.text) == {"title": "Kopi"}
    assert fake_openai.last_body["response_format"] == {"type": "json_object"}


def test_it_sends_images_as_data_uri_parts(fake_openai):
    fake_openai.reply_text("A red square.")
    request = _request("Describe this image")
    request.messages[0].attachments = [Attachment(mime_type="image/png", data=b"\x89PNG fake")]
    OpenAIProvider().generate(request)
    content = fake_openai.last_body["messages"][1]["content"]
    assert content[0] == {"type": "text", "text": "Describe this image"}
    assert content[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def test_it_needs_no_key_for_a_compatible_local_server(fake_openai, settings):
    settings.OPENAI_API_KEY = ""
    fake_openai.reply_text("from ollama")
    assert OpenAIProvider().generate(_request()).text == "from ollama"
    settings.OPENAI_BASE_URL = None
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.kind) == (True, "config")


def test_it_keeps_an_assistant_tool_call_without_text(fake_openai):
    fake_openai.reply_text("done")
    request = _request()
    request.messages.append(ChatMessage(role="assistant", tool_calls=[ToolCall("c1", "t", {})]))
    OpenAIProvider().generate(request)
    assert fake_openai.last_body["messages"][2]["content"] is None


def test_it_raises_a_transient_error_when_a_stream_breaks_after_some_text(fake_openai):
    fake_openai.fail_mid_stream("Half an answer", message="overloaded")
    events = []
    with pytest.raises(ProviderError) as info:
        for event in OpenAIProvider().stream(_request()):
            events.append(event)
    assert "".join(e.text for e in events) == "Half an answer"
    assert not info.value.permanent and "overloaded" in str(info.value)
    assert fake_openai.calls == 1  # text was already out: no retry


def test_it_reports_a_refused_connection_as_transient(fake_openai, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    settings.LLM_MAX_RETRIES = 1
    with pytest.raises(ProviderError) as info:
        OpenAIProvider().generate(_request())
    assert (info.value.permanent, info.value.kind, info.value.attempts) == (False, "connection", 2)
