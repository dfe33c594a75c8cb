"""Reads for the chat app: conversations, history, tools, usage."""

from __future__ import annotations

import threading
from collections import OrderedDict

from django.db.models import QuerySet

from chat.models import Conversation, Message, Tool, UsageDaily
from siganteng.ai.base import ChatMessage, estimate_tokens
from tenants.models import Tenant

#: Never load more rows than this for history, whatever the token budget.
HISTORY_MAX_ROWS = 50
#: Per-message overhead (role, separators) counted against the budget.
MESSAGE_OVERHEAD_TOKENS = 4


def conversation_list(
    *, tenant: Tenant, user_id: str | None = None, channel: str | None = None
) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(tenant=tenant)
    if user_id:
        qs = qs.filter(user_id=user_id)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(tenant_id=conversation.tenant_id, conversation=conversation)


def conversation_find(*, tenant: Tenant, user_id: str, channel: str, channel_ref=None) -> Conversation | None:
    """The most recently active conversation of ``user_id`` on ``channel``."""
    qs = Conversation.objects.filter(tenant=tenant, user_id=user_id, channel=channel)
    if channel_ref is not None:
        qs = qs.filter(channel_ref=channel_ref)
    return qs.order_by("-updated_at").first()


def history(*, conversation: Conversation, token_budget: int, exclude_id=None) -> list[ChatMessage]:
    """The newest user/assistant turns that fit ``token_budget`` (estimated), oldest first.

    Whole messages only: a message that does not fit ends the history (older turns matter
    less than a coherent recent exchange)."""
    qs = Message.objects.filter(conversation=conversation, role__in=("user", "assistant"))
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    rows = qs.order_by("-created_at", "-pk").values_list("role", "content")[:HISTORY_MAX_ROWS]
    newest_first = [ChatMessage(role=role, content=content) for role, content in rows]
    return trim_history(newest_first[::-1], token_budget=token_budget)


def trim_history(messages: list[ChatMessage], *, token_budget: int) -> list[ChatMessage]:
    """The newest of ``messages`` that fit ``token_budget`` (whole messages, order kept):
    the same rule as :func:`history`, for histories a stateless caller sent."""
    picked: list[ChatMessage] = []
    used = 0
    for message in reversed(messages):
        cost = estimate_tokens(message.content) + MESSAGE_OVERHEAD_TOKENS
        if used + cost > token_budget:
            break
        used += cost
        picked.append(message)
    picked.reverse()
    return picked


def tool_list(*, tenant: Tenant, enabled_only: bool = False) -> QuerySet[Tool]:
    qs = Tool.objects.filter(tenant=tenant)
    return qs.filter(enabled=True) if enabled_only else qs


_TOOLS: OrderedDict[str, tuple[int, list[Tool]]] = OrderedDict()
_TOOLS_LOCK = threading.Lock()
_TOOLS_MAX_TENANTS = 2048


def enabled_tools(*, tenant: Tenant) -> list[Tool]:
    """The tenant's enabled tools, read once per process and ``tools_version``: a reply
    no longer queries them, and any tool change (which moves the version) is seen by
    the next request that loads the tenant."""
    cached = _TOOLS.get(tenant.pk)
    if cached is not None and cached[0] == tenant.tools_version:
        return cached[1]
    rows = list(tool_list(tenant=tenant, enabled_only=True))
    with _TOOLS_LOCK:
        _TOOLS[tenant.pk] = (tenant.tools_version, rows)
        _TOOLS.move_to_end(tenant.pk)
        while len(_TOOLS) > _TOOLS_MAX_TENANTS:
            _TOOLS.popitem(last=False)
    return rows


def usage_list(*, tenant: Tenant) -> QuerySet[UsageDaily]:
    return UsageDaily.objects.filter(tenant=tenant)
