"""django-q2 entry points for channels: answer an inbound message, repair lost wake-ups."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from chat.channels.base import DeliverySkipped, Outbound, TransportError
from chat.channels.services import channel_send
from chat.models import InboundEvent, Message
from siganteng import metrics
from siganteng.errors import ApiError

logger = logging.getLogger(__name__)

REPLY_LEASE = dt.timedelta(minutes=10)
# A message whose reply keeps failing (provider down) is retried for this long; an answer
# later than that would be more confusing than none.
RETRY_FOR = dt.timedelta(hours=1)


def reply_inbound(event_id: int) -> str:
    """Produce the agent's reply to one inbound message and send it back as bubbles, in
    order, through the same channel. The conditional claim (received → replying) makes a
    duplicate wake-up a no-op, so each message is answered once."""
    from chat.services import reply

    if not InboundEvent.objects.filter(pk=event_id, status="received").update(
        status="replying", updated_at=timezone.now()
    ):
        return "stale"
    event = InboundEvent.objects.select_related("channel", "channel__tenant", "message__conversation").get(pk=event_id)
    user_message = event.message
    conversation = user_message.conversation
    channel = event.channel
    try:
        result = reply(
            tenant=channel.tenant,
            user_id=conversation.user_id,
            channel=channel.kind,
            text=user_message.content,
            conversation=conversation,
            channel_ref=channel,
            locale=conversation.locale or None,
            external_id=user_message.external_id,
            # Stored on arrival (so it is never lost while the reply waits): answer it as is.
            user_message=user_message,
        )
    except ApiError as exc:
        # reply() writes nothing when it fails, so a provider outage (5xx, 429) can be
        # retried safely: back to "received", and the reconciler re-enqueues it later.
        retry = exc.status_code >= 500 or exc.status_code == 429
        InboundEvent.objects.filter(pk=event_id).update(
            status="received" if retry else "failed", error=str(exc.detail)[:2000], updated_at=timezone.now()
        )
        return "retry" if retry else "failed"
    sent: list[str] = []
    try:
        channel_send(
            channel=channel,
            on_sent=lambda _i, pid: sent.append(pid),
            outbound=Outbound(
                recipient=conversation.user_id,
                bubbles=list(result.bubbles),
                conversation=conversation,
                reference=f"msg_{result.message.pk}",
                rate_message_id=str(result.message.pk),
            ),
        )
    except (TransportError, DeliverySkipped) as exc:
        # The reply is stored; resending could repeat bubbles that went out, so stop here.
        InboundEvent.objects.filter(pk=event_id).update(
            status="failed", error=str(exc)[:2000], updated_at=timezone.now()
        )
        return "failed"
    Message.objects.filter(pk=result.message.pk).update(
        external_id=(sent[0] if sent else "")[:200],
        metadata={**(result.message.metadata or {}), "provider_message_ids": sent},
    )
    InboundEvent.objects.filter(pk=event_id).update(status="replied", updated_at=timezone.now())
    return "replied"


def reconcile_inbound() -> dict[str, int]:
    """Re-enqueue messages whose reply wake-up was lost or whose provider failed (for up to
    ``RETRY_FOR``); a reply stuck mid-way past its lease is marked failed rather than
    answered twice."""
    from siganteng.queue import enqueue_now

    now = timezone.now()
    expired = InboundEvent.objects.filter(status="received", created_at__lt=now - RETRY_FOR).update(
        status="failed", updated_at=now
    )
    lost = list(
        InboundEvent.objects.filter(status="received", updated_at__lt=now - dt.timedelta(minutes=2)).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in lost:
        enqueue_now("chat.channels.tasks.reply_inbound", pk)
    stuck = InboundEvent.objects.filter(status="replying", updated_at__lt=now - REPLY_LEASE).update(
        status="failed", error="The reply was interrupted; it may have been sent.", updated_at=now
    )
    counts = {"requeued": len(lost), "interrupted": stuck, "expired": expired}
    metrics.reconciled(reconciler="inbound", counts=counts)
    return counts
