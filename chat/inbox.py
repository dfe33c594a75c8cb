"""The staff inbox in the back-office: the current tenant's conversations by state, each
conversation's transcript as the customer saw it, and the buttons and composer a person
uses to take a conversation over, answer, and give it back to the bot.

Pages extend the admin's base template and are scoped with
:func:`tenants.staff.current_tenant`; agents and owners both use them. Two small JSON
endpoints feed the polling script (``chat/static/chat/inbox.js``), so the list and the
transcript refresh without a page reload.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chat import handoff
from chat.models import CONVERSATION_CHANNELS, Conversation, ConversationState, Feedback, Message
from siganteng.errors import ApiError
from tenants.staff import current_tenant, role_for

STATE_FILTERS = ("open", *ConversationState.values, "all")
FEEDBACK_FILTERS = ("", "down", "rated")
LIST_LIMIT = 200


def _tenant(request: HttpRequest):
    tenant = current_tenant(request)
    if tenant is None or role_for(request.user, tenant) is None:
        raise Http404(_("Choose a tenant first."))
    return tenant


def conversations(
    tenant, *, state: str = "open", channel: str = "", q: str = "", feedback: str = ""
) -> QuerySet[Conversation]:
    """The inbox rows of ``tenant``: newest activity first, with the last message, the
    number of customer messages staff have not read, and the customer's ratings of the
    answers (👍/👎 counts and the latest rating with its comment). ``feedback``:
    ``down`` keeps conversations with an answer rated down, ``rated`` those with any rating."""
    last = Message.objects.filter(conversation=OuterRef("pk")).order_by("-created_at")
    ratings = Feedback.objects.filter(message__conversation=OuterRef("pk"))
    latest_rating = ratings.order_by("-updated_at", "-pk")
    qs = Conversation.objects.filter(tenant=tenant).select_related("assigned_to")
    if state == "open":
        qs = qs.filter(state__in=(ConversationState.NEEDS_HUMAN, ConversationState.HUMAN))
    elif state in ConversationState.values:
        qs = qs.filter(state=state)
    if channel:
        qs = qs.filter(channel=channel)
    if q:
        qs = qs.filter(user_id__icontains=q)
    if feedback == "down":
        qs = qs.filter(Exists(ratings.filter(value=Feedback.Value.DOWN)))
    elif feedback == "rated":
        qs = qs.filter(Exists(ratings))
    unread = Q(messages__role="user") & (Q(staff_read_at__isnull=True) | Q(messages__created_at__gt=F("staff_read_at")))
    return qs.annotate(
        last_text=Subquery(last.values("content")[:1]),
        last_role=Subquery(last.values("role")[:1]),
        last_at=Subquery(last.values("created_at")[:1]),
        unread=Count("messages", filter=unread),
        rated_up=Count("messages__feedback", filter=Q(messages__feedback__value=Feedback.Value.UP)),
        rated_down=Count("messages__feedback", filter=Q(messages__feedback__value=Feedback.Value.DOWN)),
        latest_rating=Subquery(latest_rating.values("value")[:1]),
        latest_rating_comment=Subquery(latest_rating.values("comment")[:1]),
        latest_rating_at=Subquery(latest_rating.values("updated_at")[:1]),
    ).order_by("-updated_at")


def _customer_name(conversation: Conversation) -> str:
    first = conversation.messages.filter(role="user").exclude(metadata__name=None).values("metadata").first()
    name = (first or {}).get("metadata", {}).get("name", "") if first else ""
    return name or conversation.user_id


def _row(c: Conversation, now) -> dict[str, Any]:
    # How long the customer has waited for a person: since the handoff, or since their
    # last message when a person has the conversation and has not answered it yet.
    since = None
    if c.state == ConversationState.NEEDS_HUMAN:
        since = c.state_changed_at
    elif c.state == ConversationState.HUMAN and c.last_role == "user":
        since = c.last_at
    waiting = int((now - since).total_seconds()) if since else None
    return {
        "id": str(c.pk),
        "url": reverse("inbox-conversation", args=[c.pk]),
        "state": c.state,
        "state_label": str(ConversationState(c.state).label),
        "channel": c.get_channel_display(),
        "customer": c.user_id,
        "assigned_to": c.assigned_to.get_username() if c.assigned_to else "",
        "reason": c.handoff_reason,
        "last_message": (c.last_text or "")[:140],
        "last_at": c.last_at.isoformat() if c.last_at else None,
        "waiting_seconds": waiting,
        "unread": c.unread,
        "feedback": {
            "up": c.rated_up,
            "down": c.rated_down,
            "latest": (
                {
                    "value": c.latest_rating,
                    "comment": c.latest_rating_comment[:280],
                    "at": c.latest_rating_at.isoformat(),
                }
                if c.latest_rating
                else None
            ),
        },
    }


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Inbox"),
        "tenant": tenant,
        "states": [("open", _("Open (needs a human or with a human)"))]
        + [(v, label) for v, label in ConversationState.choices]
        + [("all", _("All"))],
        "channels": CONVERSATION_CHANNELS,
        "feedback_filters": [
            ("", _("Any")),
            ("down", _("An answer rated 👎")),
            ("rated", _("Any rating")),
        ],
        "poll_ms": int(settings.INBOX_POLL_SECONDS * 1000),
    }
    return render(request, "chat/inbox.html", context)


@require_GET
def inbox_data(request: HttpRequest) -> JsonResponse:
    """The list as JSON for the polling script: ``state``, ``channel``, ``q`` and
    ``feedback`` (``down``: an answer rated down; ``rated``: any rating) filter."""
    tenant = _tenant(request)
    state = request.GET.get("state", "open")
    state = state if state in STATE_FILTERS else "open"
    channel = request.GET.get("channel", "")
    channel = channel if channel in dict(CONVERSATION_CHANNELS) else ""
    q = request.GET.get("q", "").replace("\x00", "")[:200]
    feedback = request.GET.get("feedback", "")
    feedback = feedback if feedback in FEEDBACK_FILTERS else ""
    now = timezone.now()
    found = conversations(tenant, state=state, channel=channel, q=q, feedback=feedback)
    rows = [_row(c, now) for c in found[:LIST_LIMIT]]
    counts = dict(
        Conversation.objects.filter(tenant=tenant)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return JsonResponse({"tenant": tenant.pk, "conversations": rows, "counts": counts, "now": now.isoformat()})


def _get(request: HttpRequest, conversation_id) -> Conversation:
    tenant = _tenant(request)
    found = Conversation.objects.select_related("tenant", "assigned_to", "channel_ref").filter(
        tenant=tenant, pk=conversation_id
    )
    conversation = found.first()
    if conversation is None:
        raise Http404
    return conversation


def _message(m: Message) -> dict[str, Any]:
    meta = m.metadata or {}
    rating = getattr(m, "feedback", None) if m.role == "assistant" else None
    if m.role == "user":
        who = "customer"
    elif m.provider == "staff":
        who = "staff"
    else:
        who = "bot"
    return {
        "id": str(m.pk),
        "who": who,
        "author": m.author_label,
        "bubbles": m.bubbles or [m.content],
        "at": m.created_at.isoformat(),
        "sources": [s for s in (m.sources or []) if s.get("cited")],
        "tool_calls": meta.get("tool_calls", []),
        "handoff": meta.get("handoff", {}).get("reason", ""),
        "delivery": meta.get("delivery") or {},
        "rating": {"value": rating.value, "comment": rating.comment} if rating else None,
    }


def _events(conversation: Conversation) -> list[dict[str, Any]]:
    return [
        {
            "kind": e.get_kind_display(),
            "from": e.from_state,
            "to": e.to_state,
            "by": e.actor_label,
            "reason": e.reason,
            "at": e.created_at.isoformat(),
        }
        for e in conversation.events.exclude(kind="message").order_by("created_at", "pk")
    ]


@require_GET
def conversation_page(request: HttpRequest, conversation_id) -> HttpResponse:
    conversation = _get(request, conversation_id)
    Conversation.objects.filter(pk=conversation.pk).update(staff_read_at=timezone.now())
    context = {
        **admin.site.each_context(request),
        "title": _("Conversation with %(customer)s") % {"customer": _customer_name(conversation)},
        "conversation": conversation,
        "staff": handoff.staff_members(conversation.tenant),
        "poll_ms": int(settings.INBOX_POLL_SECONDS * 1000),
        "states": ConversationState,
    }
    return render(request, "chat/inbox_conversation.html", context)


@require_GET
def conversation_data(request: HttpRequest, conversation_id) -> JsonResponse:
    """Transcript, state and history as JSON; reading it marks the messages read."""
    conversation = _get(request, conversation_id)
    Conversation.objects.filter(pk=conversation.pk).update(staff_read_at=timezone.now())
    rows = (
        conversation.messages.filter(role__in=("user", "assistant"))
        .select_related("feedback")
        .order_by("created_at", "pk")
    )
    return JsonResponse(
        {
            "id": str(conversation.pk),
            "state": conversation.state,
            "state_label": str(ConversationState(conversation.state).label),
            "assigned_to": conversation.assigned_to.get_username() if conversation.assigned_to else "",
            "reason": conversation.handoff_reason,
            "messages": [_message(m) for m in rows],
            "events": _events(conversation),
        }
    )


@require_POST
def conversation_action(request: HttpRequest, conversation_id) -> HttpResponse:
    """Take over, assign, release, close or reply (a form post, then back to the page)."""
    conversation = _get(request, conversation_id)
    action = request.POST.get("action", "")
    user = request.user
    try:
        if action == "takeover":
            handoff.takeover(conversation=conversation, user=user)
            messages.success(request, _("You have this conversation now; the bot is silent."))
        elif action == "assign":
            assignee = handoff.staff_members(conversation.tenant).filter(pk=request.POST.get("assignee") or 0).first()
            if assignee is None:
                messages.error(request, _("Choose a staff member of this tenant."))
            else:
                handoff.assign(conversation=conversation, assignee=assignee, actor=user)
                messages.success(request, _("Assigned to %(name)s.") % {"name": assignee.get_username()})
        elif action == "release":
            handoff.release(conversation=conversation, actor=user)
            messages.success(request, _("Given back to the bot."))
        elif action == "close":
            handoff.close(conversation=conversation, actor=user)
            messages.success(request, _("Closed."))
        elif action == "reply":
            handoff.staff_reply(conversation=conversation, text=request.POST.get("text", ""), author=user)
        else:
            messages.error(request, _("Unknown action."))
    except ApiError as exc:
        problems = [str(v[0] if isinstance(v, list) else v) for v in exc.fields.values()]
        messages.error(request, " ".join(problems) or exc.message)
    return redirect("inbox-conversation", conversation.pk)
