"""django-q2 entry points of the chat app: human handoff (tell staff, deliver staff
replies and helpdesk events, the periodic sweep for due notifications, idle release and
lost events) and the app's schedules, where the schedule registry
(``siganteng.schedules``) looks for them. The channels' own tasks live in
``chat/channels/tasks.py``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from chat import handoff
from chat.channels.base import DeliverySkipped, Outbound, TransportError
from chat.channels.services import channel_send
from chat.models import Conversation, ConversationEvent, Message
from chat.models import ConversationState as S
from siganteng import webhooks
from siganteng.errors import Conflict
from siganteng.http import OutboundError, fetch
from siganteng.queue import enqueue_now

logger = logging.getLogger(__name__)

SCHEDULES = [
    # (name, dotted function, minutes between runs)
    ("chat.handoff-sweep", "chat.tasks.sweep", 1),
    ("channels-inbound-reconcile", "chat.channels.tasks.reconcile_inbound", 1),
]

EVENT_MAX_ATTEMPTS = 6


def notify_handoff(conversation_id: str) -> str:
    """E-mail the tenant's staff that a customer waits for a person. The conditional
    update on ``notify_at`` makes a duplicate wake-up (or the sweep) send it once."""
    now = timezone.now()
    if not Conversation.objects.filter(pk=conversation_id, notify_at__lte=now, state=S.NEEDS_HUMAN).update(
        notify_at=None
    ):
        return "stale"
    conversation = Conversation.objects.select_related("tenant").get(pk=conversation_id)
    recipients = handoff.notify_recipients(conversation.tenant)
    last = conversation.messages.filter(role="user").order_by("-created_at").first()
    ConversationEvent.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        kind="notified",
        to_state=conversation.state,
        actor_label="system",
        reason=f"{len(recipients)} staff e-mailed",
    )
    if not recipients:
        return "no_recipients"
    link = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/admin/inbox/{conversation.pk}/" if settings.PUBLIC_BASE_URL else ""
    body = "\n".join(
        line
        for line in (
            f"A customer on {conversation.get_channel_display()} ({conversation.user_id}) needs a person.",
            f"Reason: {conversation.handoff_reason}",
            f"Last message: {last.content[:500]}" if last else "",
            f"Open the inbox: {link}" if link else "Open the inbox in the back-office.",
        )
        if line
    )
    try:
        send_mail(
            f"[{conversation.tenant.name}] A customer needs a person",
            body,
            None,
            recipients,
        )
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("handoff e-mail for conversation %s failed: %s", conversation.pk, exc)
        return "mail_failed"
    return "sent"


def deliver_staff_message(message_id: str) -> str:
    """Send a staff reply through its conversation's channel; the outcome (sent, skipped
    with the reason, or failed) is recorded on the message for the inbox to show."""
    message = Message.objects.select_related("conversation__channel_ref").filter(pk=message_id).first()
    if message is None or (message.metadata or {}).get("delivery", {}).get("status") != "pending":
        return "stale"
    conversation = message.conversation
    channel = conversation.channel_ref
    sent: list[str] = []
    delivery: dict = {"status": "sent", "at": timezone.now().isoformat()}
    try:
        if channel is None:
            raise TransportError("The conversation's channel was deleted.", permanent=True, code="no_channel")
        channel_send(
            channel=channel,
            on_sent=lambda _i, pid: sent.append(pid),
            outbound=Outbound(
                recipient=conversation.user_id,
                bubbles=list(message.bubbles),
                conversation=conversation,
                reference=f"msg_{message.pk}",
                metadata={"author": message.author_label},
            ),
        )
    except DeliverySkipped as skip:
        delivery = {"status": "skipped", "reason": skip.reason, "detail": str(skip)}
    except TransportError as exc:
        delivery = {"status": "failed", "reason": exc.code, "detail": str(exc)[:500]}
    Message.objects.filter(pk=message.pk).update(
        external_id=(sent[0] if sent else "")[:200],
        metadata={**(message.metadata or {}), "delivery": delivery, "provider_message_ids": sent},
    )
    return delivery["status"]


def event_payload(event: ConversationEvent) -> dict:
    """The JSON body of a helpdesk event (Standard Webhooks ``type`` / ``data``)."""
    conversation = event.conversation
    data: dict = {
        "conversation_id": str(conversation.pk),
        "user_id": conversation.user_id,
        "channel": conversation.channel,
        "state": event.to_state or conversation.state,
        "reason": event.reason,
    }
    if event.message is not None:
        m = event.message
        data["message"] = {
            "id": str(m.pk),
            "role": m.role,
            "text": m.content,
            "bubbles": m.bubbles,
            "author": m.author_label or ("customer" if m.role == "user" else "bot"),
            "created_at": m.created_at.isoformat(),
        }
    return {"type": event.webhook_type, "timestamp": event.created_at.isoformat(), "data": data}


def deliver_event(event_id: int) -> str:
    """POST one event, signed with the tenant's webhook secret, to its helpdesk URL. The
    ``webhook-id`` (``evt_<id>``) is the same on every retry; the sweep retries with backoff."""
    event = ConversationEvent.objects.select_related("conversation", "message").filter(pk=event_id).first()
    if event is None or event.webhook_status != "pending":
        return "stale"
    attempts = event.webhook_attempts
    if not ConversationEvent.objects.filter(pk=event.pk, webhook_status="pending", webhook_attempts=attempts).update(
        webhook_attempts=F("webhook_attempts") + 1
    ):
        return "stale"  # another wake-up is on it
    tenant = event.conversation.tenant
    url = handoff.settings_for(tenant).events_url
    body = json.dumps(event_payload(event), separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        **webhooks.signed_headers(tenant.webhook_secret, f"evt_{event.pk}", body),
    }
    try:
        if not url:
            raise OutboundError("The tenant has no helpdesk URL any more.", kind="bad_url", permanent=True)
        fetch("POST", url, content=body, headers=headers, timeout=10, retries=0, max_bytes=64 * 1024)
    except OutboundError as exc:
        final = exc.permanent or attempts + 1 >= EVENT_MAX_ATTEMPTS
        ConversationEvent.objects.filter(pk=event.pk).update(
            webhook_status="failed" if final else "pending", webhook_error=str(exc)[:2000]
        )
        return "failed" if final else "retry"
    ConversationEvent.objects.filter(pk=event.pk).update(webhook_status="delivered", webhook_error="")
    return "delivered"


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Every minute: notify handoffs whose opening came, give idle conversations back to
    the bot after the tenant's idle time, and retry helpdesk events with backoff."""
    from chat.models import HandoffSettings

    now = now or timezone.now()
    due = list(Conversation.objects.filter(state=S.NEEDS_HUMAN, notify_at__lte=now).values_list("pk", flat=True)[:500])
    for pk in due:
        enqueue_now("chat.tasks.notify_handoff", str(pk))
    released = 0
    idle_minutes = dict(HandoffSettings.objects.values_list("tenant_id", "idle_release_minutes"))
    default_idle = HandoffSettings._meta.get_field("idle_release_minutes").default
    candidates = Conversation.objects.filter(state=S.HUMAN, updated_at__lt=now - dt.timedelta(minutes=1))
    for conversation in candidates.select_related("tenant")[:1000]:
        minutes = idle_minutes.get(conversation.tenant_id, default_idle)
        if minutes and conversation.updated_at <= now - dt.timedelta(minutes=minutes):
            try:
                handoff.release(conversation=conversation, actor_label="system", reason=f"idle for {minutes} min")
                released += 1
            except Conflict:
                pass  # someone acted on it meanwhile
    retry = 0
    for event in ConversationEvent.objects.filter(
        webhook_status="pending", created_at__lt=now - dt.timedelta(seconds=30)
    )[:500]:
        backoff = dt.timedelta(seconds=30 * 2 ** max(0, event.webhook_attempts - 1))
        if event.created_at + backoff <= now:
            enqueue_now("chat.tasks.deliver_event", event.pk)
            retry += 1
    return {"notified": len(due), "released": released, "events_retried": retry}
