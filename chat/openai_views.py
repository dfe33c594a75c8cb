"""An OpenAI-compatible face for a tenant's agent: ``POST /v1/chat/completions`` and
``GET /v1/models``, authenticated with the tenant's API key as a Bearer token.

The caller is stateless like any OpenAI client: it sends the whole exchange, so the
messages before the last one are the history (system messages are added to the
tenant's prompt as the caller's instructions). The answer still goes through
:func:`chat.services.reply` (persona, SOP, knowledge, tools, spend gate) and is stored in
the (tenant, ``user`` or "openai-client", "openai") conversation.

``model`` is accepted whatever it says (OpenAI clients insist on sending one) and the
response names the tenant's agent, ``siganteng-<tenant id>``. Errors keep the project's
envelope ``{"error": {"code", "message", "fields"}}``: OpenAI's SDKs read
``error.message`` (and ``code``) from exactly that place, so they raise their usual
``APIStatusError`` subclasses with our message; only OpenAI's ``type`` is absent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import services
from chat.views import CHAT_ERRORS, split_messages
from siganteng.errors import ApiError, error_body
from tenants.auth import request_tenant
from tenants.models import Tenant

DEFAULT_USER = "openai-client"


def model_id(tenant: Tenant) -> str:
    return f"siganteng-{tenant.pk}"


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]})
class _ContentField(serializers.Field):
    """OpenAI message content: a string, or a list of parts of which text parts are used."""

    def to_internal_value(self, data):
        if data is None:
            return ""
        if isinstance(data, str):
            return data
        if isinstance(data, list):
            texts = []
            for part in data:
                if not isinstance(part, dict) or "type" not in part:
                    raise serializers.ValidationError("Each content part must be an object with a type.")
                if part["type"] == "text":
                    texts.append(str(part.get("text", "")))
            return "\n".join(texts)
        raise serializers.ValidationError("Must be a string or a list of content parts.")

    def to_representation(self, value):
        return value


class _Message(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "developer", "user", "assistant", "tool"])
    content = _ContentField(required=False, allow_null=True)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        value.setdefault("content", "")
        if value["role"] == "developer":
            value["role"] = "system"
        return value


def _completion_id(result: services.ReplyResult) -> str:
    return f"chatcmpl-{result.message.pk.hex}"


def _usage(result: services.ReplyResult) -> dict:
    return {
        "prompt_tokens": result.usage["input_tokens"],
        "completion_tokens": result.usage["output_tokens"],
        "total_tokens": result.usage["total_tokens"],
    }


def _extras(result: services.ReplyResult) -> dict:
    """What this agent adds beyond OpenAI's shape (ignored by OpenAI clients)."""
    return {
        "conversation_id": str(result.conversation.pk),
        "message_id": None if result.held else str(result.message.pk),
        "bubbles": result.bubbles,
        "state": result.conversation.state,
        "held": result.held,
        "sources": result.sources,
        "provider": result.provider,
        "model": result.model,
        "cost": result.usage["cost"],
    }


class ChatCompletionsView(APIView):
    required_scope = "chat"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ChatCompletionsInput"

        model = serializers.CharField(max_length=200, required=False, allow_blank=True)
        messages = _Message(many=True, allow_empty=False, max_length=200)
        stream = serializers.BooleanField(default=False)
        stream_options = serializers.DictField(required=False, allow_null=True)
        user = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "ChatCompletion",
                    {
                        "id": serializers.CharField(),
                        "object": serializers.CharField(),
                        "created": serializers.IntegerField(),
                        "model": serializers.CharField(),
                        "choices": serializers.ListField(child=serializers.DictField()),
                        "usage": serializers.DictField(),
                        "siganteng": serializers.DictField(),
                    },
                ),
                description="OpenAI chat.completion.",
            ),
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With stream=true: chat.completion.chunk server-sent events ending with `data: [DONE]`.",
            ),
            **CHAT_ERRORS,
        },
    )
    def post(self, request: Request):
        tenant = request_tenant(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        messages = [m for m in v["messages"] if m["role"] != "tool"]
        text, earlier, system = split_messages(messages)
        kwargs = {
            "tenant": tenant,
            "user_id": v.get("user") or DEFAULT_USER,
            "channel": "openai",
            "text": text,
            "history": earlier,
            "caller_instructions": system,
        }
        if v["stream"]:
            include_usage = bool((v.get("stream_options") or {}).get("include_usage"))
            events = services.reply_stream(**kwargs)
            response = StreamingHttpResponse(
                self._stream(events, tenant, include_usage), content_type="text/event-stream"
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        result = services.reply(**kwargs)
        return Response(
            {
                "id": _completion_id(result),
                "object": "chat.completion",
                "created": int(result.message.created_at.timestamp()),
                "model": model_id(tenant),
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(result),
                "siganteng": _extras(result),
            }
        )

    @staticmethod
    def _stream(events: Iterator, tenant: Tenant, include_usage: bool) -> Iterator[bytes]:
        created = int(time.time())
        stream_id = f"chatcmpl-{int(time.time() * 1000):x}"
        model = model_id(tenant)

        def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
            body = {
                "id": stream_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        try:
            for item in events:
                if isinstance(item, services.Delta):
                    yield chunk({"content": item.text})
                    continue
                yield chunk({}, "stop", siganteng=_extras(item))
                if include_usage:
                    body = {
                        "id": stream_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(item),
                    }
                    yield f"data: {json.dumps(body)}\n\n".encode()
        except ApiError as exc:
            yield f"data: {json.dumps(error_body(exc.code, exc.message))}\n\n".encode()
        yield b"data: [DONE]\n\n"


class ModelListView(APIView):
    required_scope = "chat"

    @extend_schema(
        responses=inline_serializer(
            "ModelList",
            {"object": serializers.CharField(), "data": serializers.ListField(child=serializers.DictField())},
        )
    )
    def get(self, request: Request):
        tenant = request_tenant(request)
        return Response(
            {
                "object": "list",
                "data": [
                    {
                        "id": model_id(tenant),
                        "object": "model",
                        "created": int(tenant.created_at.timestamp()),
                        "owned_by": tenant.pk,
                    }
                ],
            }
        )
