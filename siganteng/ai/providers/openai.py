"""OpenAI Chat Completions through the official ``openai`` SDK.

``settings.OPENAI_BASE_URL`` points it at any OpenAI-compatible server (Ollama, vLLM,
LM Studio); with a base URL set and no key, a placeholder key is sent because such
servers ignore it while the SDK insists on one. Failures become :class:`ProviderError`
(see ``_retry`` for permanence and retries); the SDK's own retries are off.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
from django.conf import settings

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

NAME = "openai"
PLACEHOLDER_KEY = "sk-no-key-required"

try:  # the SDK's transport (httpx or its httpx2 fork, depending on the SDK version)
    import httpx2

    _TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)
except ImportError:  # pragma: no cover
    _TRANSPORT_ERRORS = (httpx.TransportError,)

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls"}


def _build_client(api_key: str, base_url: str | None, timeout: float) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)


def to_error(exc: Exception) -> ProviderError | None:
    """Map an SDK/transport exception to ProviderError; ``None`` for anything else."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(f"OpenAI request timed out: {exc}", permanent=False, provider=NAME, kind="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"OpenAI connection failed: {exc}", permanent=False, provider=NAME, kind="connection")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return ProviderError(
            f"OpenAI answered {status}: {exc.message}",
            permanent=is_permanent_status(status),
            provider=NAME,
            status=status,
            kind="status",
            retry_after=retry_after_seconds(exc.response.headers),
        )
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        return ProviderError(f"OpenAI stream error: {exc.message}", permanent=False, provider=NAME, kind="status")
    if isinstance(exc, _TRANSPORT_ERRORS):  # raised while reading a streamed body
        return ProviderError(f"OpenAI connection failed: {exc}", permanent=False, provider=NAME, kind="connection")
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, AttributeError)):
        # json.JSONDecodeError and pydantic.ValidationError are ValueErrors.
        return _malformed(exc)
    return None


def _malformed(exc: Exception | str) -> ProviderError:
    return ProviderError(f"OpenAI reply could not be read: {exc}", permanent=False, provider=NAME, kind="malformed")


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    out: dict[str, Any] = {"role": message.role}
    if message.attachments:
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
        for att in message.attachments:
            url = f"data:{att.mime_type};base64,{base64.b64encode(att.data).decode('ascii')}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        out["content"] = parts
    else:
        out["content"] = message.content
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
            }
            for call in message.tool_calls
        ]
    if message.name and message.role == "user":
        out["name"] = message.name
    return out


def build_params(request: LLMRequest) -> dict[str, Any]:
    """The Chat Completions request body for ``request`` (minus ``stream``)."""
    messages = [{"role": "system", "content": request.system}] if request.system else []
    messages += [_message(m) for m in request.messages]
    params: dict[str, Any] = {
        "model": request.model or settings.OPENAI_DEFAULT_MODEL,
        "messages": messages,
        "temperature": request.temperature,
    }
    # max_tokens, not max_completion_tokens: every OpenAI-compatible server accepts it.
    if request.max_tokens:
        params["max_tokens"] = request.max_tokens
    if request.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    if request.response_format == "json":
        params["response_format"] = {"type": "json_object"}
    return params


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise _malformed(f"tool call arguments are not JSON ({exc})")
    if not isinstance(value, dict):
        raise _malformed("tool call arguments are not a JSON object")
    return value


def _usage(usage: Any, request: LLMRequest, text: str) -> Usage:
    if usage is None:  # some compatible servers omit it: estimate so budgets still move
        prompt = " ".join([request.system, *(m.content for m in request.messages)])
        return Usage(input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(text))
    return Usage(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0)


class OpenAIProvider:
    name = NAME
    offline = False

    def __init__(self) -> None:
        self._clients = ClientCache(_build_client)

    @property
    def default_model(self) -> str:
        return settings.OPENAI_DEFAULT_MODEL

    def _client(self) -> openai.OpenAI:
        key, base_url = settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL
        if not key:
            if not base_url:
                raise ProviderError("OPENAI_API_KEY is not set", permanent=True, provider=NAME, kind="config")
            key = PLACEHOLDER_KEY
        return self._clients.get(key, base_url, float(settings.LLM_TIMEOUT))

    def generate(self, request: LLMRequest) -> LLMResponse:
        params = build_params(request)
        client = self._client()
        completion = with_retries(lambda: client.chat.completions.create(**params), to_error=to_error)
        with mapped_errors(to_error):
            return self._response(completion, request)

    def _response(self, completion: Any, request: LLMRequest) -> LLMResponse:
        if not completion.choices:
            raise _malformed("no choices in the reply")
        choice = completion.choices[0]
        message = choice.message
        text = message.content or ""
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c.function.arguments))
            for c in (message.tool_calls or [])
        ]
        finish = _FINISH.get(choice.finish_reason or "", choice.finish_reason or "stop")
        return LLMResponse(
            text=text,
            provider=NAME,
            model=completion.model or request.model,
            usage=_usage(completion.usage, request, text),
            tool_calls=calls,
            finish_reason="tool_calls" if calls else finish,
        )

    def stream(self, request: LLMRequest) -> Iterator[StreamEvent]:
        params = build_params(request) | {"stream": True, "stream_options": {"include_usage": True}}
        client = self._client()
        # Only opening the stream is retried: once text has been yielded a retry would repeat it.
        chunks = with_retries(lambda: client.chat.completions.create(**params), to_error=to_error)
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish, model, usage = "stop", params["model"], None
        with mapped_errors(to_error), chunks:
            for chunk in chunks:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is not None and delta.content:
                        text.append(delta.content)
                        yield StreamEvent(kind="delta", text=delta.content)
                    for tc in (delta.tool_calls if delta is not None else None) or []:
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] = tc.id or slot["id"]
                        if tc.function is not None:
                            slot["name"] = tc.function.name or slot["name"]
                            slot["arguments"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        finish = _FINISH.get(choice.finish_reason, choice.finish_reason)
        full = "".join(text)
        tool_calls = [
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=_arguments(c["arguments"]))
            for i, c in sorted(calls.items())
        ]
        response = LLMResponse(
            text=full,
            provider=NAME,
            model=model,
            usage=_usage(usage, request, full),
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else finish,
        )
        yield StreamEvent(kind="done", text=full, response=response)
