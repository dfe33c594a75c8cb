"""A stopping cluster (siganteng.shutdown) hands follow-ups back: a delivery it takes
after the stop goes back to SCHEDULED unsent, and one still running when the grace is
over is released, unless a request that cannot be repeated is in flight. The real
cluster's stop is in siganteng/tests/test_serve.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from chat.channels.services import conversation_for
from chat.channels.tests.fakes import CountingWebhook
from chat.models import Message
from followups import services, tasks
from followups.models import FollowUp
from siganteng.testing import LocalServer


def _due(conversation) -> FollowUp:
    followup, _ = services.followup_schedule(
        tenant=conversation.tenant,
        conversation=conversation,
        text="Paketnya sudah sampai, Kak?",
        due_at=timezone.now() - dt.timedelta(seconds=1),
        respect_working_hours=False,
    )
    return followup


def _claim(followup) -> str:
    assert services.followups_claim_due() == [str(followup.pk)]
    return FollowUp.objects.get(pk=followup.pk).claim_token


@pytest.fixture
def webhook(tenant, make_channel, allow_private):
    """A conversation on a signed-webhook channel whose receiver answers after ``delay``."""
    receiver = CountingWebhook()
    delay = {"seconds": 0.0}

    def slow(req):
        reply = receiver(req)
        reply.delay = delay["seconds"]
        return reply

    with LocalServer(slow) as server:
        channel = make_channel(tenant, "webhook", config={"url": f"{server.url}/hook"})
        yield conversation_for(channel=channel, user_id="cust-1"), receiver, delay


@pytest.mark.django_db
def test_it_gives_a_delivery_taken_after_the_stop_back_unsent(webhook, stopping):
    conversation, receiver, _delay = webhook
    followup = _due(conversation)
    token = _claim(followup)
    stopping()
    assert tasks.deliver(str(followup.pk), token) == "released"
    followup.refresh_from_db()
    assert followup.status == "SCHEDULED" and followup.claim_token == "" and followup.attempts == 0
    assert not receiver.counts
    assert services.followups_claim_due() == [str(followup.pk)]  # any dispatcher takes it again at once


@pytest.mark.django_db(transaction=True)
def test_it_releases_a_webhook_delivery_in_flight_when_the_grace_is_over(webhook, stopping, monkeypatch):
    conversation, receiver, delay = webhook
    followup = _due(conversation)
    token = _claim(followup)
    delay["seconds"] = 2.0
    stopping(grace=0.3)
    # The request is out when the grace ends: the row goes back (the receiver drops a
    # resend with the same webhook-id), and the late answer records nothing.
    assert services.followup_deliver(followup_id=str(followup.pk), token=token) == "stale"
    followup.refresh_from_db()
    assert followup.status == "SCHEDULED" and followup.claim_token == ""
    assert not Message.objects.filter(metadata__followup_id=str(followup.pk)).exists()

    from siganteng import shutdown

    monkeypatch.setattr(shutdown, "_deadline", None)  # a cluster that is not stopping takes it
    delay["seconds"] = 0.0
    token = _claim(followup)
    assert tasks.deliver(str(followup.pk), token) == "sent"
    assert receiver.counts == {f"fu_{followup.pk}": 2}  # the same webhook-id twice: one message
    assert Message.objects.filter(metadata__followup_id=str(followup.pk)).count() == 1
    followup.refresh_from_db()
    assert followup.status == "SENT"


@pytest.mark.django_db
def test_it_never_releases_a_telegram_request_in_flight(tenant, make_channel, telegram_api):
    conversation = conversation_for(channel=make_channel(tenant, "telegram"), user_id="5550001")
    followup = _due(conversation)
    token = _claim(followup)
    FollowUp.objects.filter(pk=followup.pk).update(request_started_at=timezone.now())  # the request has left
    assert not services.followup_release(followup_id=str(followup.pk), token=token)
    followup.refresh_from_db()
    assert followup.status == "SENDING" and followup.claim_token == token
