"""Seed for channels and follow-ups: the demo tenant gets a signed-webhook channel
(disabled until staff point ``config.url`` at a real receiver) and one follow-up in a
demo conversation, so the admin pages show both. Idempotent: found by name and key."""

from __future__ import annotations

import datetime as dt
from typing import TextIO

from django.utils import timezone

from chat.channels.services import channel_create, conversation_for
from chat.models import Channel
from followups.services import followup_schedule
from tenants.models import Tenant
from tenants.seed import DEMO_TENANT_ID

CHANNEL_NAME = "Demo webhook"


def run(stdout: TextIO | None = None) -> None:
    tenant = Tenant.objects.filter(pk=DEMO_TENANT_ID).first()
    if tenant is None:
        if stdout:
            stdout.write("followups: no 'demo' tenant yet; nothing seeded\n")
        return
    channel = Channel.objects.filter(tenant=tenant, name=CHANNEL_NAME).first()
    if channel is None:
        channel, _ = channel_create(
            tenant=tenant,
            kind="webhook",
            name=CHANNEL_NAME,
            enabled=False,
            config={"url": "https://example.com/siganteng-demo-receiver"},
        )
        Channel.objects.filter(pk=channel.pk).update(
            disabled_reason="Demo channel: set config.url to your receiver, then enable it."
        )
    conversation = conversation_for(channel=channel, user_id="demo-customer")
    followup, created = followup_schedule(
        tenant=tenant,
        conversation=conversation,
        due_at=timezone.now() + dt.timedelta(days=3),
        text="Hi! Just checking in: did your order arrive safely?",
        idempotency_key="demo-check-in",
    )
    if stdout:
        stdout.write(
            f"followups: demo channel {channel.pk}; follow-up {followup.pk} "
            f"{'scheduled' if created else 'already there'} for {followup.due_at:%Y-%m-%d %H:%M} UTC\n"
        )
