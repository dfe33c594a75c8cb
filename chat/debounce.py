"""Debounced bursts on the messaging channels.

Customers often send a question in three short messages. With a tenant quiet time
(:attr:`HandoffSettings.debounce_seconds`) the reply task of each inbound message waits
until no customer message has arrived for that long; only the task of the newest message
answers, once, the whole burst; the earlier ones end as ``merged``. The wait happens in
the worker (bounded by ``CHAT_DEBOUNCE_MAX_SECONDS``), so nothing has to be scheduled.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.utils import timezone

from chat.handoff import SILENT, settings_for
from chat.models import Conversation, InboundEvent, Message


def wait_for_quiet(*, event: InboundEvent, conversation: Conversation) -> str | None:
    """The text to answer for ``event`` once the conversation has been quiet for the
    tenant's debounce time: the customer's messages since the last answer, joined. None
    when a later message of the same burst will be answered instead."""
    quiet = min(settings_for(conversation.tenant).debounce_seconds, settings.CHAT_DEBOUNCE_MAX_SECONDS)
    if quiet <= 0 or conversation.state in SILENT:
        return event.message.content
    customer = Message.objects.filter(conversation=conversation, role="user")
    while True:
        latest = customer.order_by("-created_at").values_list("created_at", flat=True).first()
        wait = (latest + dt.timedelta(seconds=quiet) - timezone.now()).total_seconds() if latest else 0
        if wait <= 0:
            break
        time.sleep(min(wait, quiet))
    if InboundEvent.objects.filter(
        channel_id=event.channel_id, message__conversation=conversation, pk__gt=event.pk
    ).exists():
        return None
    answered = (
        Message.objects.filter(conversation=conversation, role="assistant")
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    burst = customer.filter(created_at__gt=answered) if answered else customer
    texts = list(
        burst.filter(created_at__lte=event.message.created_at).order_by("created_at").values_list("content", flat=True)
    )
    return "\n".join(texts) or event.message.content
