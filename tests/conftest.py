"""Fixtures for the cross-app back-office tests: two tenants with one row of every kind
the back-office shows, and their staff."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

MARK_B = "BRAVOLEAK"


@dataclass
class World:
    alpha: object
    bravo: object
    rows: dict[str, dict[type[models.Model], list[models.Model]]] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)


def _rows(tenant, mark: str) -> dict[type[models.Model], list[models.Model]]:
    """One row of every tenant-owned model the back-office registers, marked with ``mark``."""
    from chat.models import Channel, Conversation, HandoffSettings, Message, Tool, UsageDaily
    from followups.models import FollowUp
    from jobs.models import AIModel, Job, WebhookDelivery
    from knowledge import services as knowledge_services
    from knowledge.models import Source
    from tenants import audit
    from tenants.models import ApiKey, Membership
    from tenants.services import api_key_create

    now = timezone.now()
    user = get_user_model().objects.create_user(f"{mark.lower()}-member", email=f"{mark.lower()}@example.com")
    membership = Membership.objects.create(user=user, tenant=tenant, role=Membership.AGENT)
    key = api_key_create(tenant=tenant, name=f"{mark} key").api_key
    channel = Channel.objects.create(
        tenant=tenant,
        kind="webhook",
        name=f"{mark} channel",
        config={"url": "http://127.0.0.1:9/hook"},
        secrets={"signing_secret": f"{mark}-signing-secret-value"},
    )
    conversation = Conversation.objects.create(
        tenant=tenant, user_id=f"{mark}-customer", channel="webhook", channel_ref=channel
    )
    message = Message.objects.create(tenant=tenant, conversation=conversation, role="user", content=f"{mark} hello")
    tool = Tool.objects.create(
        tenant=tenant,
        name=f"{mark.lower()}-tool",
        description=f"{mark} tool",
        parameters={"type": "object"},
        url="http://127.0.0.1:9/tool",
    )
    usage = UsageDaily.objects.create(tenant=tenant, date=now.date(), provider="extractive", model=f"{mark}-model")
    document = knowledge_services.document_upsert(
        tenant=tenant, external_id=f"{mark}-doc", title=f"{mark} document", body=f"{mark} body text.", index_now=True
    )
    source = Source.objects.create(tenant=tenant, url=f"http://127.0.0.1:9/{mark}.html")
    ai_model, _ = AIModel.objects.get_or_create(slug="walk-model", defaults={"kind": "sentiment"})
    job = Job.objects.create(tenant=tenant, model=ai_model, prompt=f"{mark} prompt", status="failed")
    delivery = WebhookDelivery.objects.create(
        job=job, url="http://127.0.0.1:9/done", event_type=f"{mark}.done", payload={"mark": mark}
    )
    followup = FollowUp.objects.create(
        tenant=tenant,
        conversation=conversation,
        channel=channel,
        user_id=f"{mark}-customer",
        requested_due_at=now + dt.timedelta(days=1),
        due_at=now + dt.timedelta(days=1),
        run_at=now + dt.timedelta(days=1),
        text=f"{mark} follow-up",
    )
    handoff_settings = HandoffSettings.objects.create(tenant=tenant, handoff_message=f"{mark} handoff message")
    entry = audit.record(tenant=tenant, actor=user, action=f"{mark.lower()}.test", obj=tool)
    return {
        type(tenant): [tenant],
        ApiKey: [key],
        Membership: [membership],
        type(entry): [entry],
        Channel: [channel],
        Conversation: [conversation],
        Message: [message],
        Tool: [tool],
        UsageDaily: [usage],
        type(document): [document],
        Source: [source],
        Job: [job],
        WebhookDelivery: [delivery],
        FollowUp: [followup],
        HandoffSettings: [handoff_settings],
    }


@pytest.fixture
def world(make_tenant) -> World:
    from tenants.models import Membership

    alpha = make_tenant("alpha", name="Alpha Shop")
    bravo = make_tenant("bravo-leak", name=f"{MARK_B} Co")
    w = World(alpha=alpha, bravo=bravo)
    w.rows["alpha"] = _rows(alpha, "ALPHAMARK")
    w.rows["bravo"] = _rows(bravo, MARK_B)
    User = get_user_model()
    for role in (Membership.OWNER, Membership.AGENT):
        user = User.objects.create_user(f"{role}@alpha.test", email=f"{role}@alpha.test", password="x", is_staff=True)
        Membership.objects.create(user=user, tenant=alpha, role=role)
        w.users[role] = user
    return w
