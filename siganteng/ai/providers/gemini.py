"""Gemini through the official ``google-genai`` SDK (the Gemini API, not Vertex AI).

``settings.GEMINI_BASE_URL`` (via ``HttpOptions``) points it at another endpoint, such
as a proxy or the test suite's fake. Tool results go back as ``functionResponse`` parts
named after the call they answer; failures become :class:`ProviderError` (see
``_retry``); the SDK's own retries are off.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from siganteng.ai.base import (
    ChatMessage,
    LLMRequest,
    LLMResponse,
    ProviderError,
    StreamEvent,
    ToolCall,
    Usage,
    estimate_tokens,
)
from siganteng.ai.providers._retry import (
    ClientCache,
    is_permanent_status,
    mapped_errors,
    retry_after_seconds,
    with_retries,
)

NAME = "gemini"
#: v1beta carries every feature used here (JSON-schema tool parameters, JSON mode); pinned
#: so an SDK upgrade that changes its default version does not change the wire format.
API_VERSION = "v1beta"

try:  # the SDK uses httpx, or its httpx2 fork when installed
    import httpx2

    _TIMEOUTS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx2.TimeoutException)
    _TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)
except ImportError:  # pragma: no cover
    _TIMEOUTS, _TRANSPORT_ERRORS = (httpx.TimeoutException,), (httpx.TransportError,)

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "PROHIBITED_CONTENT": "content_filter"}


def _build_client(api_key: str, base_url: str | None, timeout: float) -> genai.Client:
    options = types.HttpOptions(base_url=base_url, api_version=API_VERSION, timeout=max(1, int(timeout * 1000)))
    return genai.Client(api_key=api_key, vertexai=False, http_options=options)


def _headers(exc: genai_errors.APIError) -> Any:
    return getattr(getattr(exc, "response", None), "headers", None)


def to_error(exc: Exception) -> ProviderError | None:
    """Map an SDK/transport exception to ProviderError; ``None`` for anything else."""
    if isinstance(exc, genai_errors.APIError):
        status = int(exc.code or 0)
        return ProviderError(
            f"Gemini answered {status} {exc.status or ''}: {exc.message or ''}".strip(),
            permanent=is_permanent_status(status),
            provider=NAME,
            status=status,
            kind="status",
            retry_after=retry_after_seconds(_headers(exc)),
        )
    if isinstance(exc, _TIMEOUTS):
        return ProviderError(f"Gemini request timed out: {exc!r}", permanent=False, provider=NAME, kind="timeout")
    if isinstance(exc, _TRANSPORT_ERRORS):
        return ProviderError(f"Gemini connection failed: {exc!r}", permanent=False, provider=NAME, kind="connection")
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, AttributeError)):
        # json.JSONDecodeError and pydantic.ValidationError are ValueErrors.
        return _malformed(exc)
    return None


def _malformed(exc: Exception | str) -> ProviderError:
    return ProviderError(f"Gemini reply could not be read: {exc}", permanent=False, provider=NAME, kind="malformed")


def _tool_result(content: str) -> dict[str, Any]:
    """Gemini wants a JSON object as a function's response: use the tool's object as is,
    wrap anything else."""
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}


def build_contents(messages: list[ChatMessage]) -> tuple[list[types.Content], list[str]]:
    """Turn our messages into Gemini contents; returns (contents, extra system texts).

    Consecutive tool results are sent together in one user turn, as Gemini expects for
    parallel calls; a result without ``name`` takes it from the call it answers.
    """
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    contents: list[types.Content] = []
    system: list[str] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        if message.role == "tool":
            part = types.Part(
                function_response=types.FunctionResponse(
                    id=message.tool_call_id or None,
                    name=message.name or names.get(message.tool_call_id or "", "tool"),
                    response=_tool_result(message.content),
                )
            )
            last = contents[-1] if contents else None
            if last is not None and last.role == "user" and last.parts and last.parts[0].function_response:
                last.parts.append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
            continue
        parts: list[types.Part] = [types.Part(text=message.content)] if message.content else []
        parts += [types.Part(inline_data=types.Blob(mime_type=a.mime_type, data=a.data)) for a in message.attachments]
        for call in message.tool_calls:
            parts.append(
                types.Part(
                    function_call=types.FunctionCall(id=call.id, name=call.name, args=call.arguments),
                    thought_signature=base64.b64decode(call.signature) if call.signature else None,
                )
            )
        contents.append(
            types.Content(role="model" if message.role == "assistant" else "user", parts=parts or [types.Part(text="")])
        )
    return contents, system


def build_config(request: LLMRequest, extra_system: list[str]) -> types.GenerateContentConfig:
    system = "\n\n".join(s for s in [request.system, *extra_system] if s)
    config: dict[str, Any] = {
        "temperature": request.temperature,
        # We run tools ourselves (through the outbound HTTP wrapper), never the SDK.
        "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True),
    }
    if system:
        config["system_instruction"] = system
    if request.max_tokens:
        config["max_output_tokens"] = request.max_tokens
    if request.response_format == "json":
        config["response_mime_type"] = "application/json"
    if request.tools:
        config["tools"] = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=t.name, description=t.description, parameters_json_schema=t.parameters
                    )
                    for t in request.tools
                ]
            )
        ]
    return types.GenerateContentConfig(**config)


class _Accumulator:
    """Collects text, calls, finish reason and usage over one reply or a stream of chunks."""

    def __init__(self, request: LLMRequest, model: str):
        self.request = request
        self.model = model
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.finish = "stop"
        self.usage: Any = None

    def add(self, chunk: types.GenerateContentResponse) -> str:
        """Absorb one response/chunk; return its new text."""
        if chunk.usage_metadata is not None:
            self.usage = chunk.usage_metadata
        self.model = chunk.model_version or self.model
        new: list[str] = []
        candidates = chunk.candidates or []
        if not candidates and chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
            self.finish = "content_filter"
        for candidate in candidates[:1]:
            if candidate.finish_reason is not None:
                reason = getattr(candidate.finish_reason, "value", str(candidate.finish_reason))
                self.finish = _FINISH.get(reason, reason.lower())
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.function_call is not None:
                    fc = part.function_call
                    signature = base64.b64encode(part.thought_signature).decode() if part.thought_signature else ""
                    call_id = fc.id or f"call_{len(self.calls) + 1}"
                    self.calls.append(
                        ToolCall(id=call_id, name=fc.name or "", arguments=dict(fc.args or {}), signature=signature)
                    )
                elif part.text and not part.thought:
                    new.append(part.text)
        text = "".join(new)
        self.text.append(text)
        return text

    def response(self) -> LLMResponse:
        text = "".join(self.text)
        usage = self.usage
        if usage is None or usage.prompt_token_count is None:
            prompt = " ".join([self.request.system, *(m.content for m in self.request.messages)])
            tokens = Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(text))
        else:
            # Thinking tokens are billed as output, so they count against the budget too.
            output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
            tokens = Usage(input_tokens=usage.prompt_token_count or 0, output_tokens=output)
        return LLMResponse(
            text=text,
            provider=NAME,
            model=self.model,
            usage=tokens,
            tool_calls=self.calls,
            finish_reason="tool_calls" if self.calls else self.finish,
        )


class GeminiProvider:
    name = NAME
    offline = False

    def __init__(self) -> None:
        self._clients = ClientCache(_build_client)

    @property
    def default_model(self) -> str:
        return settings.GEMINI_DEFAULT_MODEL

    def _client(self) -> genai.Client:
        if not settings.GEMINI_API_KEY:
            raise ProviderError("GEMINI_API_KEY is not set", permanent=True, provider=NAME, kind="config")
        return self._clients.get(settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL, float(settings.LLM_TIMEOUT))

    def _prepare(self, request: LLMRequest) -> tuple[str, list[types.Content], types.GenerateContentConfig]:
        contents, extra_system = build_contents(request.messages)
        return request.model or self.default_model, contents, build_config(request, extra_system)

    def generate(self, request: LLMRequest) -> LLMResponse:
        model, contents, config = self._prepare(request)
        client = self._client()
        reply = with_retries(
            lambda: client.models.generate_content(model=model, contents=contents, config=config), to_error=to_error
        )
        acc = _Accumulator(request, model)
        with mapped_errors(to_error):
            acc.add(reply)
            return acc.response()

    def stream(self, request: LLMRequest) -> Iterator[StreamEvent]:
        model, contents, config = self._prepare(request)
        client = self._client()

        def open_stream() -> tuple[Iterator[types.GenerateContentResponse], types.GenerateContentResponse | None]:
            # The SDK sends the request on the first next(): retry up to the first chunk only,
            # so text already shown is never repeated.
            chunks = iter(client.models.generate_content_stream(model=model, contents=contents, config=config))
            return chunks, next(chunks, None)

        chunks, first = with_retries(open_stream, to_error=to_error)
        acc = _Accumulator(request, model)
        with mapped_errors(to_error):
            pending = [first] if first is not None else []
            for chunk in _chain(pending, chunks):
                text = acc.add(chunk)
                if text:
                    yield StreamEvent(kind="delta", text=text)
            response = acc.response()
        yield StreamEvent(kind="done", text=response.text, response=response)


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest
