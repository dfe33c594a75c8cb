"""Chat API: answer a message (plain or streamed), list conversations and messages,
rate an answer, manage tools, read usage, and the demo shipping-quote tool endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import feedback, handoff_views, selectors, services, tool_services
from chat.models import Conversation, Feedback, Message, Tool
from chat.serializers import (
    CHANNEL_CHOICES,
    ChatMessageInput,
    ConversationSerializer,
    MessageSerializer,
    ReplySerializer,
    ToolSerializer,
    UsageDailySerializer,
)
from siganteng import webhooks
from siganteng.ai.base import ChatMessage
from siganteng.api import get_owned_or_404
from siganteng.errors import ApiError, error_body, error_responses, field_error
from siganteng.pagination import CreatedCursorPagination, paginated_response
from tenants.auth import request_tenant


def reply_payload(result: services.ReplyResult) -> dict:
    """The JSON body of an answered turn (the plain response and the stream's final event)."""
    return {
        "conversation_id": str(result.conversation.pk),
        "message_id": None if result.held else str(result.message.pk),
        "user_message_id": str(result.user_message.pk) if result.user_message else None,
        "text": result.text,
        "bubbles": result.bubbles,
        "sources": result.sources,
        "usage": result.usage,
        "provider": result.provider,
        "model": result.model,
        "state": result.conversation.state,
        "held": result.held,
    }


def server_timing(result: services.ReplyResult, started: float | None = None) -> str:
    """``Server-Timing`` header: where the reply's time went (read by bench/chat.py).
    ``app`` is the whole view from DRF's dispatch (authentication included)."""
    t = dict(result.timings)
    if started is not None:
        t["app_ms"] = (time.perf_counter() - started) * 1000
    names = ("retrieval", "provider", "tools", "other", "app")
    return ", ".join(f"{name};dur={t[name + '_ms']:.2f}" for name in names if name + "_ms" in t)


def split_messages(messages: list[dict], field: str = "messages") -> tuple[str, list[ChatMessage], str]:
    """(new user text, earlier turns, caller system instructions) from a messages array.

    The last message must come from the user; ``system`` messages become the caller's
    instructions; earlier user/assistant messages are the history a stateless caller sent."""
    if not messages:
        raise field_error(field, "At least one message is required.")
    last = messages[-1]
    if last["role"] != "user":
        raise field_error(field, "The last message must have role 'user'.")
    if not last["content"].strip():
        raise field_error(field, "The last message must have non-empty content.")
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    earlier = [ChatMessage(role=m["role"], content=m["content"]) for m in messages[:-1] if m["role"] != "system"]
    return last["content"], earlier, system


# What a turn can answer beyond the common errors (siganteng.schema.AutoSchema).
CHAT_ERRORS = error_responses(
    {
        402: "budget_exceeded: the tenant's monthly token budget is spent.",
        502: "provider_error: the language model refused or returned nothing.",
        503: "provider_unavailable: the language model failed for now; try again later.",
    }
)


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class ChatView(APIView):
    """Answer one customer message."""

    required_scope = "chat"

    def dispatch(self, request, *args, **kwargs):
        self.started = time.perf_counter()  # for Server-Timing: authentication included
        return super().dispatch(request, *args, **kwargs)

    def perform_content_negotiation(self, request: Request, force: bool = False):
        """EventSource and fetch clients send ``Accept: text/event-stream``. The stream
        itself is a StreamingHttpResponse that needs no renderer; everything else such a
        client gets (an error, or the answer when it did not ask for ``stream``) is JSON,
        not a 406."""
        if "text/event-stream" in request.headers.get("Accept", ""):
            force = True
        return super().perform_content_negotiation(request, force=force)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ChatInput"

        tenant_id = serializers.CharField(
            max_length=64,
            required=False,
            allow_blank=True,
            default="",
            help_text="Optional (seed 001's ChatRequest): must be the key's tenant, else 403. With the platform "
            "key it names the tenant when X-Tenant-Id does not.",
        )
        user_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        messages = ChatMessageInput(many=True, allow_empty=False, max_length=200)
        channel = serializers.ChoiceField(choices=CHANNEL_CHOICES, default="api")
        locale = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
        conversation_id = serializers.UUIDField(required=False, allow_null=True, default=None)
        max_chars = serializers.IntegerField(
            required=False, allow_null=True, default=None, min_value=20, max_value=4096
        )
        stream = serializers.BooleanField(default=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(ReplySerializer, description="The answer."),
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With stream=true: server-sent `delta` events ({text}) and one final `done` event "
                "with the body of the plain answer (or an `error` event in the error shape).",
            ),
            **CHAT_ERRORS,
        },
    )
    def post(self, request: Request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        tenant = request_tenant(request, named=v["tenant_id"].strip() or None)
        conversation = None
        if v["conversation_id"]:
            conversation = get_owned_or_404(Conversation, tenant, pk=v["conversation_id"])
        elif not v["user_id"].strip():
            raise field_error("user_id", "This field is required when no conversation_id is given.")
        text, earlier, system = split_messages(v["messages"])
        kwargs = {
            "tenant": tenant,
            "user_id": v["user_id"],
            "channel": v["channel"],
            "text": text,
            "conversation": conversation,
            "locale": v["locale"] or None,
            "max_chars": v["max_chars"],
            "history": earlier or None,
            "caller_instructions": system,
        }
        if v["stream"]:
            events = services.reply_stream(**kwargs)
            response = StreamingHttpResponse(self._stream(events), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        result = services.reply(**kwargs)
        return Response(reply_payload(result), headers={"Server-Timing": server_timing(result, self.started)})

    @staticmethod
    def _stream(events: Iterator) -> Iterator[bytes]:
        try:
            for item in events:
                if isinstance(item, services.Delta):
                    yield sse("delta", {"text": item.text})
                else:
                    yield sse("done", reply_payload(item))
        except ApiError as exc:
            yield sse("error", error_body(exc.code, exc.message))


class ConversationListView(APIView):
    required_scope = "chat"

    @extend_schema(
        parameters=[
            OpenApiParameter("user_id", OpenApiTypes.STR, description="Only this end user's conversations."),
            OpenApiParameter("channel", OpenApiTypes.STR, enum=CHANNEL_CHOICES),
        ],
        responses=ConversationSerializer(many=True),
    )
    def get(self, request: Request):
        tenant = request_tenant(request)
        channel = request.query_params.get("channel") or None
        if channel and channel not in CHANNEL_CHOICES:
            raise field_error("channel", f"One of {', '.join(CHANNEL_CHOICES)}.")
        user_id = request.query_params.get("user_id") or None
        if user_id and "\x00" in user_id:  # PostgreSQL refuses NUL in a query: a 500 otherwise
            raise field_error("user_id", "Null characters are not allowed.")
        qs = selectors.conversation_list(tenant=tenant, user_id=user_id, channel=channel)
        return paginated_response(view=self, request=request, queryset=qs, serializer_class=ConversationSerializer)


class ConversationDetailView(APIView):
    required_scope = "chat"

    @extend_schema(responses=ConversationSerializer)
    def get(self, request: Request, conversation_id: str):
        conversation = get_owned_or_404(Conversation, request_tenant(request), pk=conversation_id)
        return Response(ConversationSerializer(conversation).data)


class MessageListView(APIView):
    """A conversation's messages, newest first (cursor pagination)."""

    required_scope = "chat"

    @extend_schema(responses=MessageSerializer(many=True))
    def get(self, request: Request, conversation_id: str):
        conversation = get_owned_or_404(Conversation, request_tenant(request), pk=conversation_id)
        return paginated_response(
            view=self,
            request=request,
            queryset=selectors.message_list(conversation=conversation),
            serializer_class=MessageSerializer,
        )

    @extend_schema(
        request=handoff_views.AgentMessageInput,
        responses={201: MessageSerializer},
        summary="Send an agent's message through the conversation's channel",
    )
    def post(self, request: Request, conversation_id: str):
        return handoff_views.agent_message_create(request, conversation_id)


# --- tools ---------------------------------------------------------------------------


class _ToolInput(serializers.Serializer):
    name = serializers.RegexField(
        r"^[a-zA-Z0-9_-]{1,64}$", max_length=64, help_text="Function name shown to the model: letters, digits, _ and -."
    )
    description = serializers.CharField(max_length=2000)
    parameters = serializers.JSONField(required=False, help_text="JSON Schema (type object) of the arguments.")
    url = serializers.URLField(max_length=500, help_text="http(s) endpoint receiving signed POSTs.")
    signing_secret = serializers.CharField(max_length=100, required=False, allow_blank=True, write_only=True)
    timeout_seconds = serializers.FloatField(required=False, min_value=0.5, max_value=30.0)
    enabled = serializers.BooleanField(required=False)


def _check_url_scheme(url: str) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise field_error("url", "Only http and https URLs are allowed.")


class ToolListView(APIView):
    """List and register the tenant's HTTP tools (admin scope: tools send data out)."""

    required_scope = "admin"

    class InputSerializer(_ToolInput):
        class Meta:
            ref_name = "ToolCreate"

        pass

    @extend_schema(responses=ToolSerializer(many=True))
    def get(self, request: Request):
        qs = selectors.tool_list(tenant=request_tenant(request))
        return paginated_response(view=self, request=request, queryset=qs, serializer_class=ToolSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={201: ToolSerializer, **error_responses({409: "A tool with this name already exists."})},
    )
    def post(self, request: Request):
        tenant = request_tenant(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _check_url_scheme(data.validated_data["url"])
        tool = tool_services.tool_create(tenant=tenant, **data.validated_data)
        return Response(ToolSerializer(tool).data, status=status.HTTP_201_CREATED)


class ToolDetailView(APIView):
    required_scope = "admin"

    class InputSerializer(_ToolInput):
        class Meta:
            ref_name = "ToolUpdate"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for f in self.fields.values():
                f.required = False

    @extend_schema(responses=ToolSerializer)
    def get(self, request: Request, tool_id: str):
        return Response(ToolSerializer(get_owned_or_404(Tool, request_tenant(request), pk=tool_id)).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: ToolSerializer, **error_responses({409: "A tool with this name already exists."})},
    )
    def patch(self, request: Request, tool_id: str):
        tool = get_owned_or_404(Tool, request_tenant(request), pk=tool_id)
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "url" in data.validated_data:
            _check_url_scheme(data.validated_data["url"])
        tool = tool_services.tool_update(tool=tool, **data.validated_data)
        return Response(ToolSerializer(tool).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, tool_id: str):
        tool_services.tool_delete(tool=get_owned_or_404(Tool, request_tenant(request), pk=tool_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsageCursorPagination(CreatedCursorPagination):
    """Newest day first; a day's rows by provider and model (one row each)."""

    ordering = ("-date", "provider", "model")


class UsageListView(APIView):
    """Daily token and cost roll-up, newest day first, paginated like every list."""

    required_scope = "chat"
    pagination_class = UsageCursorPagination

    @extend_schema(responses=UsageDailySerializer(many=True))
    def get(self, request: Request):
        rows = selectors.usage_list(tenant=request_tenant(request))
        return paginated_response(view=self, request=request, queryset=rows, serializer_class=UsageDailySerializer)


# --- demo tool -----------------------------------------------------------------------

ZONES = {
    "jakarta": 1,
    "bogor": 1,
    "depok": 1,
    "tangerang": 1,
    "bekasi": 1,
    "bandung": 2,
    "semarang": 2,
    "surabaya": 2,
    "yogyakarta": 2,
    "malang": 2,
    "solo": 2,
    "medan": 3,
    "makassar": 3,
    "denpasar": 3,
    "palembang": 3,
    "balikpapan": 3,
}
ZONE_PRICE = {1: (10000, 4000, 1), 2: (15000, 6000, 2), 3: (25000, 9000, 4), 4: (35000, 12000, 6)}


def shipping_quote(*, destination_city: str, weight_kg: float, service: str = "regular") -> dict:
    """A deterministic demo price list (IDR): base + per-kg by zone; express costs 1.8x and is faster."""
    zone = ZONES.get(destination_city.strip().lower(), 4)
    base, per_kg, days = ZONE_PRICE[zone]
    kg = max(1, -(-weight_kg // 1))  # charged per started kilogram
    price = base + per_kg * (kg - 1)
    if service == "express":
        price, days = int(price * 1.8), max(1, days // 2)
    return {
        "destination_city": destination_city,
        "weight_kg": weight_kg,
        "service": service,
        "price_idr": int(price),
        "eta_days": days,
        "courier": "SIGANTENG demo courier",
    }


class DemoShippingQuoteView(APIView):
    """The demo tenant's shipping-quote tool, served by this app. Called by the tool runner
    with a Standard Webhooks signature made with the calling tenant's ``shipping_quote``
    tool secret; unsigned or badly signed calls get 401."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DemoShippingQuoteInput"

        destination_city = serializers.CharField(max_length=100)
        weight_kg = serializers.FloatField(min_value=0.01, max_value=1000)
        service = serializers.ChoiceField(choices=["regular", "express"], default="regular")

    @extend_schema(
        request=inline_serializer(
            "ShippingQuoteCall",
            {"tool": serializers.CharField(), "tenant": serializers.CharField(), "arguments": InputSerializer()},
        ),
        responses={
            200: inline_serializer(
                "ShippingQuote",
                {
                    "destination_city": serializers.CharField(),
                    "weight_kg": serializers.FloatField(),
                    "service": serializers.CharField(),
                    "price_idr": serializers.IntegerField(),
                    "eta_days": serializers.IntegerField(),
                    "courier": serializers.CharField(),
                },
            ),
            # Signed by the tool secret, not an API key: the common rule does not declare 401 here.
            **error_responses({401: "Unknown or unsigned tool, or a bad signature."}),
        },
        auth=[],
    )
    def post(self, request: Request):
        body = request.body
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # absurdly deep nesting is malformed input too
            raise ApiError("Malformed JSON.", code="malformed_request") from None
        payload = payload if isinstance(payload, dict) else {}
        tenant_id, name = payload.get("tenant"), payload.get("tool")
        tool = None
        if isinstance(tenant_id, str) and isinstance(name, str):
            tool = Tool.objects.filter(tenant_id=tenant_id, name=name).first()
        if tool is None or not tool.signing_secret:
            raise ApiError("Unknown or unsigned tool.", code="authentication_failed", status_code=401)
        try:
            webhooks.verify(tool.signing_secret, dict(request.headers), body)
        except webhooks.WebhookVerificationError as exc:
            raise ApiError(f"Bad signature: {exc}.", code="authentication_failed", status_code=401) from None
        data = self.InputSerializer(data=payload.get("arguments") or {})
        data.is_valid(raise_exception=True)
        return Response(shipping_quote(**data.validated_data))


# --- answer feedback -------------------------------------------------------------------


class MessageFeedbackView(APIView):
    """Rate one of the agent's answers: up or down, with an optional comment."""

    required_scope = "chat"

    class InputSerializer(serializers.Serializer):
        value = serializers.ChoiceField(choices=Feedback.Value.choices)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=feedback.COMMENT_MAX, default="")

    class OutputSerializer(serializers.ModelSerializer):
        message_id = serializers.UUIDField()

        class Meta:
            model = Feedback
            fields = ["message_id", "value", "comment", "source", "created_at", "updated_at"]

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer},
        description="Rate an answer of the agent (a message with role `assistant`). Rating it again replaces "
        "the earlier rating. Another tenant's message, or an unknown id, is 404.",
    )
    def post(self, request: Request, message_id: str):
        tenant = request_tenant(request)
        message = get_owned_or_404(Message, tenant, pk=message_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = feedback.feedback_record(tenant=tenant, message=message, source="api", **data.validated_data)
        return Response(self.OutputSerializer(result).data)
