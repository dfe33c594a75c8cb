"""The Gemini adapter, with the real ``google-genai`` SDK against the suite's fake server."""

from __future__ import annotations

import base64
import json

import pytest

from siganteng.ai.base import Attachment, ChatMessage, LLMRequest, ProviderError, ToolSpec
from siganteng.ai.providers.gemini import GeminiProvider

QUOTE_TOOL = ToolSpec(
    name="shipping_quote",
    description="Quote a shipping price",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _request(text: str = "Hi there", **kw) -> LLMRequest:
    return LLMRequest(model="", system="You are Sari.", messages=[ChatMessage(role="user", content=text)], **kw)


def test_it_returns_a_plain_reply_with_usage(fake_gemini):
    fake_gemini.reply_text("Halo! Ada yang bisa dibantu?", usage=(12, 7))
    response = GeminiProvider().generate(_request(temperature=0.2, max_tokens=50))
    assert response.text == "Halo! Ada yang bisa dibantu?"
    assert (response.provider, response.model) == ("gemini", "gemini-2.5-flash")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 7)
    assert response.finish_reason == "stop"
    rec = fake_gemini.requests[-1]
    assert rec.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert rec.headers["x-goog-api-key"] == "gemini-test-fake"
    body = rec.json()
    assert body["systemInstruction"]["parts"] == [{"text": "You are Sari."}]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi there"}]}]
    assert body["generationConfig"]["temperature"] == 0.2
    assert body["generationConfig"]["maxOutputTokens"] == 50


def test_it_streams_deltas_then_the_whole_response(fake_gemini):
    fake_gemini.reply_text("One two three four five six seven.", usage=(9, 7))
    events = list(GeminiProvider().stream(_request()))
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "One two three four five six seven."
    done = events[-1]
    assert done.kind == "done" and done.response.text == "One two three four five six seven."
    assert (done.response.usage.input_tokens, done.response.usage.output_tokens) == (9, 7)
    rec = fake_gemini.requests[-1]
    assert rec.path.endswith(":streamGenerateContent") and rec.query["alt"] == ["sse"]


@pytest.mark.parametrize("streaming", [False, True])
def test_it_returns_tool_calls_and_sends_their_results_back(fake_gemini, streaming):
    provider = GeminiProvider()
    fake_gemini.reply_tool_call("shipping_quote", {"city": "Bandung"})
    request = _request("Ongkir ke Bandung?", tools=[QUOTE_TOOL])
    response = list(provider.stream(request))[-1].response if streaming else provider.generate(request)
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert (call.name, call.arguments) == ("shipping_quote", {"city": "Bandung"})
    declared = fake_gemini.last_body["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "shipping_quote"
    # The SDK passes declarations through in proto field names; the API accepts either spelling.
    assert declared.get("parametersJsonSchema", declared.get("parameters_json_schema")) == QUOTE_TOOL.parameters

    fake_gemini.reply_text("Ongkirnya Rp15.000.")
    request.messages += [
        ChatMessage(role="assistant", tool_calls=[call]),
        ChatMessage(role="tool", tool_call_id=call.id, content='{"price": 15000}'),
    ]
    assert provider.generate(request).text == "Ongkirnya Rp15.000."
    contents = fake_gemini.last_body["contents"]
    assert contents[1]["role"] == "model"
    assert contents[1]["parts"][0]["functionCall"] == {
        "id": call.id,
        "name": "shipping_quote",
        "args": {"city": "Bandung"},
    }
    assert contents[1]["parts"][0].get("thoughtSignature", contents[1]["parts"][0].get("thought_signature")) == (
        fake_gemini.SIGNATURE
    )
    assert contents[2]["role"] == "user"
    assert contents[2]["parts"][0]["functionResponse"] == {
        "id": call.id,
        "name": "shipping_quote",
        "response": {"price": 15000},
    }


def test_it_retries_a_429_then_succeeds(fake_gemini):
    fake_gemini.fail(429).reply_text("ok")
    assert GeminiProvider().generate(_request()).text == "ok"
    assert fake_gemini.calls == 2


def test_it_gives_up_on_500_after_the_configured_attempts(fake_gemini, settings):
    settings.LLM_MAX_RETRIES = 2
    fake_gemini.fail(500, times=5)
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.status, info.value.attempts) == (False, 500, 3)
    assert fake_gemini.calls == 3


def test_it_retries_opening_a_stream_too(fake_gemini):
    fake_gemini.fail(503).reply_text("streamed")
    assert list(GeminiProvider().stream(_request()))[-1].response.text == "streamed"
    assert fake_gemini.calls == 2


def test_it_times_out_as_a_transient_error(fake_gemini, settings):
    settings.LLM_TIMEOUT = 0.2
    settings.LLM_MAX_RETRIES = 1
    fake_gemini.delay(1.0, times=2)
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.kind, info.value.attempts) == (False, "timeout", 2)


def test_it_reports_a_malformed_body_once_without_retrying(fake_gemini):
    fake_gemini.malformed()
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.kind) == (False, "malformed")
    assert fake_gemini.calls == 1


def test_it_treats_a_bad_key_as_permanent_without_retrying(fake_gemini):
    fake_gemini.fail(401, message="API key not valid")
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.status) == (True, 401)
    assert fake_gemini.calls == 1


def test_it_asks_for_json_mode(fake_gemini):
    fake_gemini.reply_json({"title": "Kopi"})
    response = GeminiProvider().generate(_request("Beri judul", response_format="json"))
    assert json.loads(response.text) == {"title": "Kopi"}
    assert fake_gemini.last_body["generationConfig"]["responseMimeType"] == "application/json"


def test_it_sends_images_as_inline_data(fake_gemini):
    fake_gemini.reply_text("A red square.")
    request = _request("Describe this image")
    request.messages[0].attachments = [Attachment(mime_type="image/png", data=b"\x89PNG fake")]
    GeminiProvider().generate(request)
    parts = fake_gemini.last_body["contents"][0]["parts"]
    assert parts[0] == {"text": "Describe this image"}
    blob = parts[1]["inlineData"]
    assert blob.get("mimeType", blob.get("mime_type")) == "image/png"
    assert blob["data"] == base64.b64encode(b"\x89PNG fake").decode()


def test_it_refuses_to_run_without_a_key(fake_gemini, settings):
    settings.GEMINI_API_KEY = ""
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.kind) == (True, "config")
    assert fake_gemini.calls == 0


def test_it_reports_a_refused_connection_as_transient(fake_gemini, settings):
    settings.GEMINI_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.LLM_MAX_RETRIES = 1
    with pytest.raises(ProviderError) as info:
        GeminiProvider().generate(_request())
    assert (info.value.permanent, info.value.kind, info.value.attempts) == (False, "connection", 2)
