"""The handoff API for external helpdesks: hand a conversation to a person, assign it,
give it back to the bot, close it, and send an agent's message through its channel.

Each view validates → calls :mod:`chat.handoff` → answers the conversation (or the
message). The caller is recorded as ``api:<key prefix>`` on the conversation's events.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import handoff
from chat.models import Conversation
from chat.serializers import ConversationSerializer, MessageSerializer
from siganteng.api import get_owned_or_404
from siganteng.errors import Conflict, error_responses, field_error
from tenants.auth import request_tenant

STATE_CONFLICT = error_responses({409: "The conversation's state does not allow this change."})


def _caller(request: Request) -> str:
    key = getattr(request.user, "api_key", None)
    return f"api:{key.prefix}" if key is not None else f"api:{getattr(request.user, 'username', '') or 'platform'}"


def _conversation(request: Request, conversation_id) -> Conversation:
    return get_owned_or_404(Conversation.objects.select_related("tenant"), request_tenant(request), pk=conversation_id)


def _answer(conversation: Conversation) -> Response:
    conversation.refresh_from_db()
    return Response(ConversationSerializer(conversation).data)


class HandoffView(APIView):
    """Hand the conversation to a person (*bot* or *closed* → *needs_human*); staff are
    notified (now, or at the next opening outside working hours)."""

    required_scope = "chat"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HandoffInput"

        reason = serializers.CharField(max_length=250)

    @extend_schema(
        request=InputSerializer,
        responses={200: ConversationSerializer, **STATE_CONFLICT},
        summary="Hand off to a person",
    )
    def post(self, request: Request, conversation_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not handoff.handoff_request(
            conversation=conversation, reason=data.validated_data["reason"], actor_label=_caller(request)
        ):
            conversation.refresh_from_db()
            raise Conflict(
                f"The conversation is already {conversation.state!r}: a person has it or was asked for.",
                code="invalid_state",
            )
        return _answer(conversation)


class AssignView(APIView):
    """Give the conversation to a staff member of the tenant (→ *human*); the bot stops."""

    required_scope = "chat"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignInput"

        assignee = serializers.CharField(max_length=254, help_text="The staff member's username or e-mail.")

    @extend_schema(
        request=InputSerializer,
        responses={200: ConversationSerializer, **STATE_CONFLICT},
        summary="Assign to a staff member",
    )
    def post(self, request: Request, conversation_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        who = data.validated_data["assignee"]
        assignee = (
            get_user_model()
            .objects.filter(Q(username=who) | Q(email__iexact=who), memberships__tenant=conversation.tenant)
            .first()
        )
        if assignee is None:
            raise field_error("assignee", "No staff member of this tenant has this username or e-mail.")
        handoff.assign(conversation=conversation, assignee=assignee, actor_label=_caller(request))
        return _answer(conversation)


class _ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")


class ReleaseView(APIView):
    """Give the conversation back to the bot (*needs_human* / *human* → *bot*)."""

    required_scope = "chat"

    class InputSerializer(_ReasonInput):
        class Meta:
            ref_name = "ReleaseInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: ConversationSerializer, **STATE_CONFLICT},
        summary="Give back to the bot",
    )
    def post(self, request: Request, conversation_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        handoff.release(conversation=conversation, actor_label=_caller(request), reason=data.validated_data["reason"])
        return _answer(conversation)


class CloseView(APIView):
    """Close the conversation; the customer's next message reopens it (to the bot or to
    the person it was with, per the tenant's handoff settings)."""

    required_scope = "chat"

    class InputSerializer(_ReasonInput):
        class Meta:
            ref_name = "CloseInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: ConversationSerializer, **STATE_CONFLICT},
        summary="Close",
    )
    def post(self, request: Request, conversation_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        handoff.close(conversation=conversation, actor_label=_caller(request), reason=data.validated_data["reason"])
        return _answer(conversation)


class AgentMessageInput(serializers.Serializer):
    class Meta:
        ref_name = "AgentMessageInput"

    text = serializers.CharField(max_length=4096)
    author = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="The agent's name in the helpdesk."
    )


def agent_message_create(request: Request, conversation_id) -> Response:
    """POST on a conversation's messages: an agent's message, delivered through the
    conversation's channel (it takes the conversation from the bot if needed)."""
    conversation = _conversation(request, conversation_id)
    data = AgentMessageInput(data=request.data)
    data.is_valid(raise_exception=True)
    author = data.validated_data["author"].strip()
    message = handoff.staff_reply(
        conversation=conversation,
        text=data.validated_data["text"],
        author_label=f"{_caller(request)}:{author}" if author else _caller(request),
    )
    return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
