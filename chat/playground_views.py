"""The staff-only agent playground: pick a tenant, chat with its agent, see the bubbles,
the retrieved sources and the exact prompt that was sent, and rate answers 👍/👎."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chat import feedback, selectors, services
from chat.models import CONVERSATION_CHANNELS, Conversation, Message
from siganteng.api import parse_uuid
from siganteng.errors import ApiError
from tenants.staff import current_tenant, tenants_for


@staff_member_required
def playground(request: HttpRequest) -> HttpResponse:
    # Only the tenants this user works for (a superuser: all); another tenant is a 404.
    tenants = list(tenants_for(request.user).filter(is_active=True).order_by("id"))
    data = request.POST if request.method == "POST" else request.GET
    if data.get("tenant"):
        tenant = next((t for t in tenants if t.pk == data["tenant"]), None)
        if tenant is None:
            raise Http404("No such tenant.")
    else:
        current = current_tenant(request)
        tenant = next((t for t in tenants if current and t.pk == current.pk), tenants[0] if tenants else None)
    channel = data.get("channel") if data.get("channel") in dict(CONVERSATION_CHANNELS) else "api"
    user_id = (data.get("user_id") or f"playground-{request.user.get_username()}")[:200]
    conversation = None
    if tenant is not None and data.get("conversation_id") and not data.get("new"):
        conversation = Conversation.objects.filter(tenant=tenant, pk=data["conversation_id"]).first()
    result = None
    error = ""
    if request.method == "POST" and conversation is not None and data.get("rate"):
        # 👍/👎 under an answer: rated as a customer would, through the same service.
        answer = Message.objects.filter(conversation=conversation, pk=parse_uuid(data["rate"])).first()
        if answer is not None:
            try:
                feedback.feedback_record(
                    tenant=tenant, message=answer, value=data.get("value", ""), source="playground"
                )
            except ApiError as exc:
                error = f"{exc.status_code}: {exc.message}"
    elif request.method == "POST" and tenant is not None and data.get("text", "").strip():
        try:
            result = services.reply(
                tenant=tenant,
                user_id=user_id,
                channel=channel,
                text=data["text"],
                conversation=conversation,
                locale=data.get("locale") or None,
            )
            conversation = result.conversation
        except ApiError as exc:
            error = f"{exc.status_code}: {exc.message}"
    turns: list[Message] = []
    if conversation is not None:
        turns = list(
            selectors.message_list(conversation=conversation).select_related("feedback").order_by("created_at")
        )
        for turn in turns:
            turn.rating = getattr(getattr(turn, "feedback", None), "value", "")
    return render(
        request,
        "chat/playground.html",
        {
            **admin.site.each_context(request),  # the back-office's header, bar and switcher
            "tenants": tenants,
            "tenant": tenant,
            "channels": [c for c, _ in CONVERSATION_CHANNELS],
            "channel": channel,
            "user_id": user_id,
            "locale": data.get("locale", ""),
            "conversation": conversation,
            "turns": turns,
            "result": result,
            "error": error,
        },
    )
