"""Channel operations: manage channels, send through them, take inbound messages and
answer them.

Sending records the outcome on the Channel row (``last_error``) and disables the channel
on an error that means the channel itself is broken; the caller (a follow-up or an
inbound reply) decides about retrying.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import debounce, handoff
from chat import services as chat_services
from chat.channels import registry
from chat.channels.base import (
    ConfigError,
    DeliverySkipped,
    InboundMessage,
    InboundRating,
    OnSent,
    Outbound,
    TransportError,
)
from chat.feedback import feedback_record
from chat.models import Channel, Conversation, Feedback, InboundEvent, Message
from siganteng import metrics
from siganteng.api import parse_uuid
from siganteng.errors import ApiError
from siganteng.queue import enqueue, enqueue_now
from tenants.models import Tenant

logger = logging.getLogger(__name__)

TEST_MESSAGE = "Test message from SIGANTENG: this channel works."

REPLY_LEASE = dt.timedelta(minutes=10)
# A message whose reply keeps failing (provider down) is retried for this long; an answer
# later than that would be more confusing than none.
RETRY_FOR = dt.timedelta(hours=1)


def _clean(kind: str, config: dict[str, Any], secrets: dict[str, Any]) -> tuple[dict, dict]:
    if kind not in registry.TRANSPORTS:
        raise ApiError(f"Unknown channel kind {kind!r}.", code="invalid", fields={"kind": ["Unknown kind."]})
    try:
        return registry.transport_class(kind).clean_config(dict(config or {}), dict(secrets or {}))
    except ConfigError as exc:
        raise ApiError(str(exc), code="invalid", fields={k: [v] for k, v in exc.fields.items()}) from None


def channel_create(
    *,
    tenant: Tenant,
    kind: str,
    name: str,
    config: dict | None = None,
    secrets: dict | None = None,
    enabled: bool = True,
) -> tuple[Channel, dict[str, str]]:
    """Create a channel; returns it and the secrets generated for it (shown to the caller
    once: the Telegram secret token, WhatsApp verify token or webhook signing secret)."""
    supplied = dict(secrets or {})
    config, secrets = _clean(kind, config or {}, supplied)
    generated = {k: secrets[k] for k in registry.transport_class(kind).generated_secrets if not supplied.get(k)}
    channel = Channel.objects.create(
        tenant=tenant, kind=kind, name=name, config=config, secrets=secrets, enabled=enabled
    )
    return channel, generated


def channel_update(
    *,
    channel: Channel,
    name: str | None = None,
    config: dict | None = None,
    secrets: dict | None = None,
    enabled: bool | None = None,
) -> Channel:
    """Change a channel. ``secrets`` are merged (a key set to null or "" is removed);
    enabling a channel clears its ``disabled_reason``."""
    if config is not None or secrets is not None:
        merged = dict(channel.secrets)
        for key, value in (secrets or {}).items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = value
        channel.config, channel.secrets = _clean(channel.kind, channel.config if config is None else config, merged)
    if name is not None:
        channel.name = name
    if enabled is not None:
        channel.enabled = enabled
        if enabled:
            channel.disabled_reason = ""
    channel.save()
    return channel


def channel_delete(*, channel: Channel) -> None:
    channel.delete()


def channel_record_error(*, channel_id, error: TransportError) -> None:
    """Store the last error; a channel-breaking error also disables the channel."""
    fields: dict[str, Any] = {"last_error": f"[{error.code}] {error}"[:2000], "last_error_at": timezone.now()}
    if error.disable:
        fields.update(enabled=False, disabled_reason=f"Disabled after a permanent error: {error}"[:2000])
        logger.warning("channel %s disabled: %s", channel_id, error)
    Channel.objects.filter(pk=channel_id).update(**fields)


def channel_send(*, channel: Channel, outbound: Outbound, start: int = 0, on_sent: OnSent | None = None) -> list[str]:
    """Deliver ``outbound.bubbles[start:]`` through ``channel``; raises TransportError
    (recorded on the channel) or DeliverySkipped."""
    if not channel.enabled:
        raise TransportError(
            f"The channel is disabled: {channel.disabled_reason or 'by staff'}", permanent=True, code="channel_disabled"
        )
    try:
        ids = registry.transport_for(channel).deliver(outbound, start=start, on_sent=on_sent)
    except DeliverySkipped:
        metrics.channel_send(kind=channel.kind, outcome="skipped")
        raise
    except TransportError as exc:
        metrics.channel_send(kind=channel.kind, outcome=exc.code or "error")
        channel_record_error(channel_id=channel.pk, error=exc)
        raise
    metrics.channel_send(kind=channel.kind, outcome="sent")
    logger.info(
        "Sent %d message(s) through %s channel %s (%s).", len(ids), channel.kind, channel.pk, outbound.reference
    )
    return ids


def channel_send_test(*, channel: Channel, recipient: str = "") -> list[str]:
    """Send a fixed test message (admin action). The recipient defaults to the channel's
    ``config.test_recipient``; the WhatsApp window is treated as open."""
    recipient = recipient or str(channel.config.get("test_recipient", "")) or "test"
    conversation = Conversation(
        tenant=channel.tenant,
        user_id=recipient,
        channel=channel.kind,
        channel_ref=channel,
        last_customer_message_at=timezone.now(),
    )
    ids = channel_send(
        channel=channel,
        outbound=Outbound(recipient=recipient, bubbles=[TEST_MESSAGE], conversation=conversation, reference="test"),
    )
    Channel.objects.filter(pk=channel.pk).update(last_error="", last_error_at=None)
    return ids


# --- inbound --------------------------------------------------------------------------
def conversation_for(*, channel: Channel, user_id: str) -> Conversation:
    """The customer's latest conversation on this channel, opened when there is none."""
    conversation = (
        Conversation.objects.filter(tenant_id=channel.tenant_id, channel_ref=channel, user_id=user_id)
        .order_by("-updated_at")
        .first()
    )
    if conversation is None:
        conversation = Conversation.objects.create(
            tenant_id=channel.tenant_id, user_id=user_id, channel=channel.kind, channel_ref=channel
        )
    return conversation


@dataclass
class Accepted:
    event_id: int | None
    duplicate: bool


def inbound_accept(*, channel: Channel, message: InboundMessage) -> Accepted:
    """Store one verified customer message and enqueue its reply.

    The unique (channel, external_id) InboundEvent makes a provider's retry a no-op, so a
    message is answered once. The conversation's ``last_customer_message_at`` records the
    arrival (the follow-ups app reads it to cancel follow-ups marked ``cancel_on_reply``).
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                tenant_id=channel.tenant_id, channel=channel, external_id=message.external_id[:200]
            )
            conversation = conversation_for(channel=channel, user_id=message.user_id)
            user_message = Message.objects.create(
                tenant_id=channel.tenant_id,
                conversation=conversation,
                role="user",
                content=message.text,
                external_id=message.external_id[:200],
                metadata={"inbound_event": event.pk, **({"name": message.name} if message.name else {})},
            )
            Conversation.objects.filter(pk=conversation.pk).update(last_customer_message_at=now, updated_at=now)
            handoff.customer_arrived(conversation=conversation, message=user_message)  # HANDOFF hook: reopen, events
            event.message = user_message
            event.save(update_fields=["message", "updated_at"])
            enqueue("chat.channels.tasks.reply_inbound", event.pk)
    except IntegrityError:
        return Accepted(event_id=None, duplicate=True)
    return Accepted(event_id=event.pk, duplicate=False)


def inbound_reply(*, event_id: int) -> str:
    """Produce the agent's reply to one inbound message and send it back as bubbles, in
    order, through the same channel. Returns ``replied``, ``retry`` (back to received for
    the reconciler), ``failed``, ``merged`` (answered with a later message of the same
    burst), ``held`` (a person owns the conversation) or ``stale``.

    The conditional claim (received → replying) makes a duplicate wake-up a no-op, so
    each message is answered once."""
    if not InboundEvent.objects.filter(pk=event_id, status="received").update(
        status="replying", updated_at=timezone.now()
    ):
        return "stale"
    event = InboundEvent.objects.select_related("channel", "channel__tenant", "message__conversation").get(pk=event_id)
    user_message = event.message
    conversation = user_message.conversation
    channel = event.channel
    # HANDOFF hook: a burst of messages is answered once, after the tenant's quiet time.
    burst = debounce.wait_for_quiet(event=event, conversation=conversation)
    if burst is None:
        InboundEvent.objects.filter(pk=event_id).update(status="merged", updated_at=timezone.now())
        return "merged"
    try:
        result = chat_services.reply(
            tenant=channel.tenant,
            user_id=conversation.user_id,
            channel=channel.kind,
            text=burst,
            conversation=conversation,
            channel_ref=channel,
            locale=conversation.locale or None,
            external_id=user_message.external_id,
            # Stored on arrival (so it is never lost while the reply waits): answer it as is.
            user_message=user_message,
        )
    except ApiError as exc:
        # reply() writes nothing when it fails, so an error that may pass (a provider
        # outage) is retried safely: back to "received", and the reconciler re-enqueues it.
        retry = exc.retryable
        InboundEvent.objects.filter(pk=event_id).update(
            status="received" if retry else "failed", error=exc.message[:2000], updated_at=timezone.now()
        )
        return "retry" if retry else "failed"
    if result.held:  # HANDOFF hook: a person owns the conversation; no one answers here
        InboundEvent.objects.filter(pk=event_id).update(status="held", updated_at=timezone.now())
        return "held"
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


def inbound_reconcile() -> dict[str, int]:
    """Re-enqueue messages whose reply wake-up was lost or whose provider failed (for up to
    ``RETRY_FOR``); a reply stuck mid-way past its lease is marked failed rather than
    answered twice."""
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


def inbound_rate(*, channel: Channel, rating: InboundRating) -> Feedback | None:
    """Record a customer's tap on a rating button. Only an answer in that customer's own
    conversation on this channel can be rated; anything else (a forged or stale button)
    is ignored, so a payload naming another customer's message changes nothing."""
    message_id = parse_uuid(rating.message_id)
    message = (
        Message.objects.filter(
            pk=message_id,
            tenant=channel.tenant,
            role="assistant",
            conversation__channel_ref=channel,
            conversation__user_id=rating.user_id,
        ).first()
        if message_id
        else None
    )
    if message is None:
        return None
    return feedback_record(tenant=channel.tenant, message=message, value=rating.value, source=channel.kind)
