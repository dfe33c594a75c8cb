"""Human handoff: who answers a conversation, and every change of it.

A conversation is in one of four states (:class:`chat.models.ConversationState`):
*bot* (the model answers), *needs_human* (a person was asked for; the bot is silent),
*human* (a staff member owns it; the bot is silent) and *closed*. Every change is a
conditional ``UPDATE … WHERE state IN (…)`` plus a :class:`ConversationEvent` row (who,
when, why) in the same transaction; staff actions also go to the tenant's audit log.

The bot's answer is stored only if the conversation is still the bot's at that moment
(:func:`claim_bot_turn`, a conditional update inside the transaction that stores the
answer): a takeover committed while the model was writing wins, and the customer's
message is left to the person. So each customer message has exactly one responder.

The chat orchestrator (chat/services.py) calls this module at marked hooks:
:func:`before_bot_turn`, :func:`tool_specs`, :func:`handoff_tool_call`,
:func:`claim_bot_turn` / :class:`BotSilenced` and :func:`after_bot_turn`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chat.models import Conversation, ConversationEvent, HandoffSettings, Message
from chat.models import ConversationState as S
from siganteng import metrics
from siganteng.ai.base import ToolCall, ToolSpec
from siganteng.ai.intents import HANDOFF_TOOL as TOOL_NAME
from siganteng.ai.intents import asks_for_person
from siganteng.errors import Conflict, field_error
from siganteng.queue import enqueue
from tenants import audit
from tenants.models import Membership, Tenant

logger = logging.getLogger(__name__)

#: States in which no model answers the customer.
SILENT = (S.NEEDS_HUMAN, S.HUMAN)

# Reasons recorded for a handoff (a free text may follow after ": ").
REASON_REQUEST = "customer_request"
REASON_TOOL = "model"
REASON_NO_ANSWER = "no_answer"
REASON_SENTIMENT = "negative_sentiment"

DEFAULT_MESSAGES = {
    "en": {
        "open": "I'm passing you to one of our team. Someone will reply here shortly.",
        "closed": "I'm passing you to one of our team. We're closed right now; someone will reply here when we open.",
    },
    "id": {
        "open": "Saya teruskan ke tim kami. Sebentar lagi ada yang membalas di sini.",
        "closed": "Saya teruskan ke tim kami. Saat ini kami sedang tutup; tim kami akan membalas di sini saat buka.",
    },
}


def settings_for(tenant: Tenant) -> HandoffSettings:
    """The tenant's handoff settings; an unsaved row with the defaults when none exists."""
    found = HandoffSettings.objects.filter(tenant=tenant).first()
    return found if found is not None else HandoffSettings(tenant=tenant)


def _lang(locale: str) -> str:
    return "id" if (locale or "").lower().startswith("id") else "en"


def handoff_text(tenant: Tenant, conversation: Conversation | None, *, is_open: bool) -> str:
    """What the customer is told when handed to a person (inside or outside hours)."""
    config = settings_for(tenant)
    custom = config.handoff_message if is_open else (config.after_hours_message or tenant.after_hours_message)
    lang = _lang((conversation.locale if conversation else "") or tenant.locale)
    return custom.strip() or DEFAULT_MESSAGES[lang]["open" if is_open else "closed"]


def _label(actor) -> str:
    if actor is not None and getattr(actor, "is_authenticated", False):
        return actor.get_username()
    return ""


# --- state changes -----------------------------------------------------------------------


def _event(
    conversation: Conversation,
    *,
    kind: str,
    from_state: str = "",
    to_state: str = "",
    actor=None,
    actor_label: str = "",
    reason: str = "",
    message: Message | None = None,
    webhook_type: str = "",
) -> ConversationEvent | None:
    """Record one event; one with a ``webhook_type`` is sent to the helpdesk after commit.
    Message events exist only for the helpdesk: none is written when it has no URL."""
    pending = bool(webhook_type) and bool(settings_for(conversation.tenant).events_url)
    if kind == "message" and not pending:
        return None
    event = ConversationEvent.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        actor=actor if _label(actor) else None,
        actor_label=_label(actor) or actor_label,
        reason=reason[:300],
        message=message,
        webhook_type=webhook_type if pending else "",
        webhook_status="pending" if pending else "",
    )
    if pending:
        enqueue("chat.tasks.deliver_event", event.pk)
    return event


def _change(
    conversation: Conversation,
    *,
    allowed: tuple[str, ...],
    to: str,
    kind: str,
    actor=None,
    actor_label: str = "",
    reason: str = "",
    webhook_type: str = "",
    **fields: Any,
) -> ConversationEvent:
    """Move ``conversation`` to ``to`` if it is in one of ``allowed`` (a conditional
    update: a concurrent change makes this one fail with 409 ``invalid_state``)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Conversation.objects.filter(pk=conversation.pk, state__in=allowed).update(
            state=to, state_changed_at=now, updated_at=now, **fields
        )
        if not changed:
            conversation.refresh_from_db(fields=["state"])
            raise Conflict(
                f"A conversation in state {conversation.state!r} cannot be moved to {to!r}.", code="invalid_state"
            )
        previous = conversation.state if conversation.state in allowed else allowed[0]
        conversation.refresh_from_db()
        event = _event(
            conversation,
            kind=kind,
            from_state=previous,
            to_state=to,
            actor=actor,
            actor_label=actor_label,
            reason=reason,
            webhook_type=webhook_type,
        )
        if _label(actor):
            audit.record(
                tenant=conversation.tenant,
                actor=actor,
                action=f"conversation.{kind}",
                obj=conversation,
                changes={"state": [previous, to], **({"reason": reason} if reason else {})},
            )
    return event


def handoff_request(
    *, conversation: Conversation, reason: str, actor=None, actor_label: str = "bot", now: dt.datetime | None = None
) -> bool:
    """Ask for a person: *bot* (or *closed*) → *needs_human*. Staff are notified now
    inside working hours, at the next opening outside them. False when a person already
    has (or was already asked for) the conversation."""
    if not reason.strip():
        raise field_error("reason", "This field is required.")
    now = now or timezone.now()
    tenant = conversation.tenant
    notify_at = now if tenant.is_open(now) else (tenant.next_opening(now) or now)
    try:
        _change(
            conversation,
            allowed=(S.BOT, S.CLOSED),
            to=S.NEEDS_HUMAN,
            kind="handoff",
            actor=actor,
            actor_label=actor_label,
            reason=reason,
            webhook_type="conversation.handoff",
            handoff_reason=reason[:300],
            notify_at=notify_at,
            assigned_to=None,
        )
    except Conflict:
        return False
    if notify_at <= now:
        enqueue("chat.tasks.notify_handoff", str(conversation.pk))
    metrics.handoff(reason=reason_code(reason, actor_label), tenant_id=tenant.pk)
    return True


def reason_code(reason: str, actor_label: str) -> str:
    """The trigger behind a handoff, as a metric label: one of the built-in reasons
    (``model: …`` counts as ``model``), else who asked (a helpdesk's free text would give
    the metric a label value per handoff)."""
    code = reason.split(":", 1)[0].strip()
    if code in (REASON_REQUEST, REASON_TOOL, REASON_NO_ANSWER, REASON_SENTIMENT):
        return code
    return "api" if actor_label == "api" else "other"


def _check_staff(tenant: Tenant, user) -> None:
    from tenants.staff import role_for

    if role_for(user, tenant) is None:
        raise field_error("assignee", "Not a staff member of this tenant.")


def takeover(*, conversation: Conversation, user) -> ConversationEvent:
    """A staff member takes the conversation: the bot stops answering it."""
    return assign(conversation=conversation, assignee=user, actor=user)


def assign(*, conversation: Conversation, assignee, actor=None, actor_label: str = "api") -> ConversationEvent:
    """Give the conversation to ``assignee`` (a staff member of the tenant); recorded as a
    *takeover* when they take it themselves."""
    _check_staff(conversation.tenant, assignee)
    themselves = actor is not None and actor == assignee
    return _change(
        conversation,
        allowed=(S.BOT, S.NEEDS_HUMAN, S.HUMAN, S.CLOSED),
        to=S.HUMAN,
        kind="takeover" if themselves else "assign",
        actor=actor,
        actor_label=actor_label,
        reason="" if themselves else f"assigned to {assignee.get_username()}",
        assigned_to=assignee,
        notify_at=None,
    )


def release(*, conversation: Conversation, actor=None, actor_label: str = "api", reason: str = "") -> ConversationEvent:
    """Give the conversation back to the bot."""
    return _change(
        conversation,
        allowed=(S.NEEDS_HUMAN, S.HUMAN),
        to=S.BOT,
        kind="release",
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        assigned_to=None,
        notify_at=None,
        handoff_reason="",
        no_answer_streak=0,
    )


def close(*, conversation: Conversation, actor=None, actor_label: str = "api", reason: str = "") -> ConversationEvent:
    """Close the conversation; the customer's next message reopens it (see :func:`customer_arrived`)."""
    return _change(
        conversation,
        allowed=(S.BOT, S.NEEDS_HUMAN, S.HUMAN),
        to=S.CLOSED,
        kind="close",
        actor=actor,
        actor_label=actor_label,
        reason=reason,
        webhook_type="conversation.closed",
        notify_at=None,
    )


def customer_arrived(*, conversation: Conversation, message: Message) -> str:
    """A customer message was stored: reopen a closed conversation (to the bot, or to the
    person it was with, per the tenant), tell the helpdesk, and return the state that
    decides who answers."""
    if conversation.state == S.CLOSED:
        config = settings_for(conversation.tenant)
        back_to_human = config.reopen_to == "human" and conversation.assigned_to_id is not None
        to = S.HUMAN if back_to_human else S.BOT
        try:
            _change(conversation, allowed=(S.CLOSED,), to=to, kind="reopen", actor_label="customer")
        except Conflict:
            conversation.refresh_from_db()
    _event(conversation, kind="message", actor_label="customer", message=message, webhook_type="message.created")
    return conversation.state


# --- the bot's turn (hooks called by chat/services.py) ------------------------------------


class BotSilenced(Exception):
    """Raised inside the transaction storing a bot answer when a person took the
    conversation in the meantime: the answer is dropped (rolled back)."""


def claim_bot_turn(conversation: Conversation) -> bool:
    """Inside the answer's transaction: True if the conversation is still the bot's
    (the row is locked by the update until commit, so a takeover waits for it)."""
    return bool(Conversation.objects.filter(pk=conversation.pk, state=S.BOT).update(updated_at=timezone.now()))


@dataclass
class Early:
    """What :func:`before_bot_turn` decided instead of asking the model."""

    conversation: Conversation
    user_message: Message
    answer: Message | None  # the handoff message, or None when the bot stays silent


def _store_customer_message(turn, conversation: Conversation | None) -> tuple[Conversation, Message]:
    """The turn's customer message, stored (once) with its conversation opened if needed."""
    now = timezone.now()
    if conversation is None:
        conversation = Conversation.objects.create(
            tenant=turn.tenant,
            user_id=turn.user_id,
            channel=turn.channel,
            channel_ref=turn.channel_ref,
            locale=turn.locale,
            last_customer_message_at=now,
        )
    message = turn.stored_user_message
    if message is None:
        message = Message.objects.create(
            tenant=turn.tenant, conversation=conversation, role="user", content=turn.text, external_id=turn.external_id
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_customer_message_at=now, updated_at=now)
        customer_arrived(conversation=conversation, message=message)
    return conversation, message


def _handoff_answer(turn, conversation: Conversation, reason: str, metadata: dict | None = None) -> Message:
    """Hand the conversation to a person and store the message telling the customer so."""
    from chat import bubbles
    from chat.prompt import channel_rules

    tenant = turn.tenant
    handoff_request(conversation=conversation, reason=reason)
    text = handoff_text(tenant, conversation, is_open=tenant.is_open())
    rules = channel_rules(turn.channel)
    answer = Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        role="assistant",
        content=text,
        bubbles=bubbles.split(text, limit=turn.max_chars or rules.max_chars, max_bubbles=tenant.max_bubbles),
        provider="handoff",
        metadata={"handoff": {"reason": reason}, **(metadata or {})},
    )
    _event(conversation, kind="message", actor_label="bot", message=answer, webhook_type="message.created")
    return answer


def _negative(text: str, threshold: float) -> bool:
    if threshold >= 0:
        return False
    from jobs.handlers.sentiment import lexicon_score  # the project's sentiment analysis

    return lexicon_score(text)["score"] <= threshold


def before_bot_turn(turn, conversation: Conversation | None) -> Early | None:
    """Before the model is asked: None lets the bot answer. Otherwise the customer's
    message is stored and either nobody answers (a person owns the conversation) or the
    customer is told they are being handed to a person (they asked for one, or wrote
    something strongly negative). Staff-instructed turns (follow-ups) are left alone."""
    if turn.instruction:
        return None
    config = settings_for(turn.tenant)
    with transaction.atomic():
        if conversation is not None:
            conversation.refresh_from_db(fields=["state", "assigned_to"])
        state = conversation.state if conversation is not None else S.BOT
        reason = ""
        if state in SILENT:
            pass
        elif config.on_request and asks_for_person(turn.text):
            reason = REASON_REQUEST
        elif _negative(turn.text, config.negative_sentiment):
            reason = REASON_SENTIMENT
        elif state == S.CLOSED and turn.stored_user_message is None:
            pass  # stored (and reopened) below
        else:
            return None
        conversation, user_message = _store_customer_message(turn, conversation)
        conversation.refresh_from_db()
        if conversation.state == S.BOT and not reason:
            turn.stored_user_message = user_message  # reopened to the bot: the model answers it
            return None
        answer = _handoff_answer(turn, conversation, reason) if reason and conversation.state == S.BOT else None
    conversation.refresh_from_db()
    return Early(conversation=conversation, user_message=user_message, answer=answer)


def hold(turn, conversation: Conversation | None) -> Early:
    """A person took the conversation while the model was writing: keep the customer's
    message for them; nobody else answers it."""
    with transaction.atomic():
        conversation, user_message = _store_customer_message(turn, conversation)
    conversation.refresh_from_db()
    return Early(conversation=conversation, user_message=user_message, answer=None)


def tool_specs(tenant: Tenant) -> list[ToolSpec]:
    """The built-in ``handoff_to_human`` function, when the tenant lets the model call it."""
    if not settings_for(tenant).on_tool:
        return []
    return [
        ToolSpec(
            name=TOOL_NAME,
            description=(
                "Hand this conversation to a human staff member. Call it when the customer asks for a person, "
                "is upset, or needs something you cannot do or answer. Give a short reason."
            ),
            parameters={
                "type": "object",
                "properties": {"reason": {"type": "string", "description": "Why a person is needed."}},
                "required": ["reason"],
            },
        )
    ]


def handoff_tool_call(tool_calls: list[ToolCall]) -> ToolCall | None:
    """The model's ``handoff_to_human`` call among ``tool_calls``, if any."""
    return next((c for c in tool_calls if c.name == TOOL_NAME), None)


def model_handoff(turn, conversation: Conversation | None, call: ToolCall) -> Early:
    """The model called ``handoff_to_human``: store the customer's message and tell them."""
    reason = str((call.arguments or {}).get("reason") or "").strip()[:250] or "requested by the model"
    with transaction.atomic():
        conversation, user_message = _store_customer_message(turn, conversation)
        conversation.refresh_from_db()
        answer = None
        if conversation.state == S.BOT:
            answer = _handoff_answer(
                turn,
                conversation,
                f"{REASON_TOOL}: {reason}",
                {"tool_calls": [{"name": TOOL_NAME, "arguments": call.arguments, "ok": True}]},
            )
    conversation.refresh_from_db()
    return Early(conversation=conversation, user_message=user_message, answer=answer)


def after_bot_turn(*, conversation: Conversation, answer: Message, customer: Message | None = None) -> str:
    """After the bot answered (``customer``: the message it answered, when stored in the
    same turn): tell the helpdesk about both; count answers that cited nothing from the knowledge base;
    at the tenant's limit, hand off and add the handoff message to the answer. Returns
    the text appended ("" when none)."""
    if customer is not None:
        _event(conversation, kind="message", actor_label="customer", message=customer, webhook_type="message.created")
    _event(conversation, kind="message", actor_label="bot", message=answer, webhook_type="message.created")
    cited = any(s.get("cited") for s in (answer.sources or []))
    if cited:
        Conversation.objects.filter(pk=conversation.pk).exclude(no_answer_streak=0).update(no_answer_streak=0)
        return ""
    Conversation.objects.filter(pk=conversation.pk).update(no_answer_streak=F("no_answer_streak") + 1)
    conversation.refresh_from_db()
    limit = settings_for(conversation.tenant).no_answer_limit
    if not limit or conversation.no_answer_streak < limit:
        return ""
    if not handoff_request(conversation=conversation, reason=REASON_NO_ANSWER):
        return ""
    return handoff_text(conversation.tenant, conversation, is_open=conversation.tenant.is_open())


# --- staff replies -----------------------------------------------------------------------


def staff_reply(*, conversation: Conversation, text: str, author=None, author_label: str = "") -> Message:
    """A staff member's message to the customer: stored with its author, audited, sent to
    the helpdesk webhook and delivered through the conversation's channel by a task (an
    API conversation's client reads it from the message list). A reply to a conversation
    the bot still has takes it over first, so the bot and the person never both answer."""
    from chat import bubbles
    from chat.prompt import channel_rules

    text = (text or "").strip()
    if not text:
        raise field_error("text", "This field is required.")
    if author is not None and _label(author):
        _check_staff(conversation.tenant, author)
    conversation.refresh_from_db()
    if conversation.state != S.HUMAN or (author is not None and conversation.assigned_to_id is None):
        if author is not None and _label(author):
            takeover(conversation=conversation, user=author)
        elif conversation.state != S.HUMAN:
            _change(
                conversation,
                allowed=(S.BOT, S.NEEDS_HUMAN, S.CLOSED),
                to=S.HUMAN,
                kind="takeover",
                actor_label=author_label or "api",
                notify_at=None,
            )
    rules = channel_rules(conversation.channel)
    label = _label(author) or author_label or "api"
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            role="assistant",
            content=text,
            bubbles=bubbles.split(text, limit=rules.max_chars, max_bubbles=50),
            provider="staff",
            author=author if _label(author) else None,
            author_label=label,
            metadata={"delivery": {"status": "pending" if conversation.channel_ref_id else "stored"}},
        )
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now, staff_read_at=now)
        _event(
            conversation,
            kind="message",
            actor=author,
            actor_label=label,
            message=message,
            webhook_type="message.created",
        )
        if _label(author):
            audit.record(
                tenant=conversation.tenant,
                actor=author,
                action="conversation.reply",
                obj=conversation,
                changes={"message": str(message.pk)},
            )
        if conversation.channel_ref_id:
            enqueue("chat.tasks.deliver_staff_message", str(message.pk))
    return message


def staff_members(tenant: Tenant):
    """Users who may be assigned a conversation of ``tenant`` (its members)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(memberships__tenant=tenant, is_active=True).distinct()


def notify_recipients(tenant: Tenant) -> list[str]:
    """E-mail addresses of the tenant's staff (agents and owners)."""
    return sorted(
        {
            e
            for e in Membership.objects.filter(tenant=tenant, user__is_active=True).values_list(
                "user__email", flat=True
            )
            if e
        }
    )
