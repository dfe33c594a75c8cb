"""Two real qcluster processes on one database deliver each of 1,000 due follow-ups
exactly once: the local channel server counts the deliveries per follow-up."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.utils import timezone

from chat.channels.services import channel_create, conversation_for
from chat.channels.tests.fakes import CountingWebhook
from followups.models import FollowUp
from siganteng.queue import enqueue_now
from siganteng.testing import LocalServer, qcluster, wait_until

N = 1000


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_delivers_each_of_1000_follow_ups_exactly_once_with_two_clusters(tenant):
    receiver = CountingWebhook()
    with LocalServer(receiver) as server:
        channel, _ = channel_create(
            tenant=tenant, kind="webhook", name="hook", config={"url": f"{server.url}/followups"}
        )
        conversation = conversation_for(channel=channel, user_id="cust-1")
        now = timezone.now()
        FollowUp.objects.bulk_create(
            [
                FollowUp(
                    tenant=tenant,
                    conversation=conversation,
                    channel=channel,
                    user_id="cust-1",
                    requested_due_at=now,
                    due_at=now - dt.timedelta(seconds=1),
                    run_at=now - dt.timedelta(seconds=1),
                    text=f"follow-up {i}",
                    respect_working_hours=False,
                )
                for i in range(N)
            ]
        )
        env = {"OUTBOUND_ALLOW_PRIVATE": "true", "FOLLOWUP_DISPATCH_BATCH": "50", "Q_WORKERS": "2"}
        with contextlib.ExitStack() as stack:
            stack.enter_context(qcluster(**env))
            stack.enter_context(qcluster(**env))
            # Several dispatcher runs race for the same rows in both clusters.
            for _ in range(4):
                enqueue_now("followups.tasks.dispatch", 0)
            wait_until(
                lambda: FollowUp.objects.filter(status="SENT").count() == N,
                timeout=240,
                interval=0.5,
                message=f"{N} follow-ups sent",
            )
    assert len(receiver.counts) == N
    assert max(receiver.counts.values()) == 1, "a follow-up was delivered twice"
    assert set(receiver.counts) == {f"fu_{pk}" for pk in FollowUp.objects.values_list("pk", flat=True)}
    assert not FollowUp.objects.exclude(status="SENT").exists()
    assert not FollowUp.objects.filter(attempts__gt=1).exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_it_never_resends_a_follow_up_whose_worker_died_mid_request(tenant, settings):
    from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI
    from followups import tasks
    from siganteng.testing import kill_cluster

    api = TelegramAPI()

    def slow(req):
        reply = api(req)
        reply.delay = 30.0  # the worker is killed while this request is in flight
        return reply

    with LocalServer(slow) as server:
        channel, _ = channel_create(
            tenant=tenant, kind="telegram", name="bot", secrets={"bot_token": BOT_TOKEN, "secret_token": "s"}
        )
        conversation = conversation_for(channel=channel, user_id="5550001")
        now = timezone.now()
        followup = FollowUp.objects.create(
            tenant=tenant,
            conversation=conversation,
            channel=channel,
            user_id="5550001",
            requested_due_at=now,
            due_at=now,
            run_at=now,
            text="only once",
            respect_working_hours=False,
        )
        env = {
            "OUTBOUND_ALLOW_PRIVATE": "true",
            "TELEGRAM_API_BASE": server.url,
            "CHANNEL_TIMEOUT": "60",
            "FOLLOWUP_LEASE_SECONDS": "600",
        }
        with qcluster(**env) as proc:
            enqueue_now("followups.tasks.dispatch", 0)
            wait_until(lambda: len(server.requests) == 1, timeout=60, message="the request to reach Telegram")
            kill_cluster(proc)
        followup.refresh_from_db()
        assert followup.status == "SENDING" and followup.request_started_at is not None
        # the lease runs out; the reconciler must not send it again
        FollowUp.objects.filter(pk=followup.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
        assert tasks.reconcile() == {"requeued": 0, "outcome_unknown": 1, "canceled_on_reply": 0}
        followup.refresh_from_db()
        assert followup.status == "FAILED" and followup.reason == "outcome_unknown" and followup.needs_review
        assert tasks.dispatch(loop_seconds=0) == 0
        assert len(server.requests) == 1
