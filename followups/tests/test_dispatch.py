"""Dispatch and delivery, step by step: claim, deliver, retry, fail, skip, cancel on reply,
and the exactly-once rules for wake-ups that are duplicated, lost or interrupted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from chat.channels.services import conversation_for
from chat.channels.tests.fakes import dumps, telegram_update
from chat.models import Channel, Conversation, Message
from followups import services, tasks
from followups.models import FollowUp
from siganteng.testing import Reply

pytestmark = pytest.mark.django_db

LONG = (
    "Halo Budi! Pesanan kamu sudah kami kirim hari ini.\n\n"
    "Nomor resinya JNE 1234567890, bisa dicek di situs JNE.\n\n"
    "Kalau ada pertanyaan, balas saja pesan ini ya."
)


def _due(conversation, *, text=LONG, prompt="", ago=dt.timedelta(seconds=1), **kw) -> FollowUp:
    followup, _ = services.followup_schedule(
        tenant=conversation.tenant,
        conversation=conversation,
        text=text,
        prompt=prompt,
        due_at=timezone.now() - ago,
        respect_working_hours=False,
        **kw,
    )
    return followup


def _claim_and_deliver() -> list[str]:
    """One dispatcher pass, then run each enqueued delivery like a worker would."""
    claimed = services.followups_claim_due()
    outcomes = []
    for pk in claimed:
        token = FollowUp.objects.get(pk=pk).claim_token
        outcomes.append(tasks.deliver(pk, token))
    return outcomes


@pytest.fixture
def telegram(tenant, make_channel, telegram_api):
    channel = make_channel(tenant, "telegram")
    return conversation_for(channel=channel, user_id="5550001")


def test_it_delivers_a_due_follow_up_once_as_bubbles(telegram, telegram_api, django_capture_on_commit_callbacks):
    followup = _due(telegram)
    later = _due(telegram, ago=-dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.followups_claim_due() == [str(followup.pk)]
    assert len(callbacks) == 1  # the delivery tasks are enqueued after commit
    token = FollowUp.objects.get(pk=followup.pk).claim_token
    assert tasks.deliver(str(followup.pk), token) == "sent"
    assert tasks.deliver(str(followup.pk), token) == "stale"  # a duplicate wake-up changes nothing
    followup.refresh_from_db()
    assert followup.status == "SENT" and followup.attempts == 1 and followup.sent_at is not None
    assert [m["text"] for m in telegram_api.sent] == followup.bubbles == LONG.split("\n\n")
    assert followup.provider_message_ids == ["1000", "1001", "1002"]
    assert followup.message.content == LONG and followup.message.role == "assistant"
    assert FollowUp.objects.get(pk=later.pk).status == "SCHEDULED"
    assert services.followups_claim_due() == []


def test_it_claims_each_row_once_across_dispatchers(telegram):
    for _ in range(5):
        _due(telegram, text="x")
    first = services.followups_claim_due(limit=3)
    second = services.followups_claim_due(limit=3)
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)


def test_it_retries_a_transient_error_with_backoff_resuming_after_sent_bubbles(telegram, telegram_api, settings):
    followup = _due(telegram)
    ok = {"ok": True, "result": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}}}
    # bubble 1 goes out, then the API fails with 502 on bubble 2 (the typing call before it is fine)
    telegram_api.fail_next[:] = [Reply(200, ok), Reply(200, {"ok": True, "result": True}), Reply(502, "Bad Gateway")]
    assert _claim_and_deliver() == ["retry"]
    followup.refresh_from_db()
    assert followup.status == "SCHEDULED" and followup.attempts == 1 and "502" in followup.last_error
    assert followup.provider_message_ids == ["1"]
    assert followup.run_at >= timezone.now() + dt.timedelta(seconds=settings.FOLLOWUP_RETRY_BASE_SECONDS - 5)
    assert _claim_and_deliver() == []  # not before the backoff
    FollowUp.objects.filter(pk=followup.pk).update(run_at=timezone.now())
    assert _claim_and_deliver() == ["sent"]
    followup.refresh_from_db()
    # the retry resumed with bubble 2: bubble 1 was not sent twice
    assert [m["text"] for m in telegram_api.sent] == LONG.split("\n\n")[1:]
    assert followup.provider_message_ids == ["1", "1000", "1001"] and followup.attempts == 2
    assert Channel.objects.get().enabled


def test_it_fails_after_the_last_attempt(telegram, telegram_api):
    followup = _due(telegram, text="x")
    FollowUp.objects.filter(pk=followup.pk).update(max_attempts=2)
    for _ in range(2):
        telegram_api.fail_next.append(Reply(503, "busy"))
        FollowUp.objects.filter(pk=followup.pk).update(run_at=timezone.now())
        _claim_and_deliver()
    followup.refresh_from_db()
    assert followup.status == "FAILED" and followup.reason == "max_attempts" and followup.attempts == 2


def test_it_fails_a_permanent_error_at_once_and_says_why(telegram, telegram_api):
    followup = _due(telegram, text="x")
    telegram_api.fail_next.append(
        Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    )
    assert _claim_and_deliver() == ["failed"]
    followup.refresh_from_db()
    assert followup.status == "FAILED" and followup.reason == "http_403" and "blocked" in followup.last_error
    assert followup.attempts == 1


def test_it_marks_a_timed_out_send_for_staff_instead_of_sending_again(telegram, telegram_api, settings):
    settings.CHANNEL_TIMEOUT = 0.2
    followup = _due(telegram, text="x")
    telegram_api.fail_next.append(Reply(200, {"ok": True}, delay=1.0))
    assert _claim_and_deliver() == ["outcome_unknown"]
    followup.refresh_from_db()
    assert followup.status == "FAILED" and followup.reason == "outcome_unknown" and followup.needs_review
    assert _claim_and_deliver() == []


def test_it_marks_a_delivery_whose_worker_died_mid_request_for_staff(telegram, telegram_api):
    followup = _due(telegram, text="x")
    [pk] = services.followups_claim_due()
    # the worker wrote request_started_at, sent the request, and died before the outcome
    FollowUp.objects.filter(pk=pk).update(
        request_started_at=timezone.now(), lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.followups_reconcile() == {"requeued": 0, "outcome_unknown": 1, "canceled_on_reply": 0}
    followup.refresh_from_db()
    assert followup.status == "FAILED" and followup.reason == "outcome_unknown" and followup.needs_review
    assert _claim_and_deliver() == [] and telegram_api.sent == []


def test_it_redelivers_a_claim_whose_request_never_started(telegram, telegram_api):
    followup = _due(telegram, text="x")
    [pk] = services.followups_claim_due()
    old_token = FollowUp.objects.get(pk=pk).claim_token
    # the wake-up was lost (Redis has no ack): the lease runs out with nothing started
    FollowUp.objects.filter(pk=pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert tasks.reconcile() == {"requeued": 1, "outcome_unknown": 0, "canceled_on_reply": 0}
    assert _claim_and_deliver() == ["sent"]
    assert tasks.deliver(pk, old_token) == "stale"  # the late original wake-up does nothing
    assert len(telegram_api.sent) == 1 and FollowUp.objects.get(pk=followup.pk).status == "SENT"


def test_it_marks_a_redelivered_task_whose_request_had_started(telegram, telegram_api):
    _due(telegram, text="x")
    [pk] = services.followups_claim_due()
    row = FollowUp.objects.get(pk=pk)
    FollowUp.objects.filter(pk=pk).update(request_started_at=timezone.now())
    assert tasks.deliver(pk, row.claim_token) == "outcome_unknown"
    assert telegram_api.sent == []


def test_it_cancels_on_a_customer_reply_before_the_due_time(telegram, telegram_api, tenant):
    keep = _due(telegram, text="still send", ago=-dt.timedelta(minutes=5), cancel_on_reply=False)
    cancel = _due(telegram, text="never send", ago=-dt.timedelta(minutes=5))
    channel = telegram.channel_ref
    resp = Client().post(
        f"/channels/telegram/{channel.inbound_token}/",
        content_type="application/json",
        data=dumps(telegram_update(update_id=1, message_id=1, chat_id=5550001, text="thanks!")),
        headers={"X-Telegram-Bot-Api-Secret-Token": "tg-secret-0123456789"},
    )
    assert resp.status_code == 200
    FollowUp.objects.filter(status="SCHEDULED").update(run_at=timezone.now())
    assert _claim_and_deliver() == ["sent"]
    cancel.refresh_from_db()
    assert cancel.status == "CANCELED" and cancel.reason == "customer_replied"
    assert [m["text"] for m in telegram_api.sent] == ["still send"]
    assert FollowUp.objects.get(pk=keep.pk).status == "SENT"


def test_it_cancels_on_a_customer_message_sent_through_the_chat_service(telegram, telegram_api):
    from chat.services import reply

    keep = _due(telegram, text="still send", ago=-dt.timedelta(minutes=5), cancel_on_reply=False)
    cancel = _due(telegram, text="never send", ago=-dt.timedelta(minutes=5))
    reply(
        tenant=telegram.tenant,
        user_id=telegram.user_id,
        channel="telegram",
        text="sudah, terima kasih",
        conversation=telegram,
    )
    assert tasks.reconcile()["canceled_on_reply"] == 1  # visible before the due time
    cancel.refresh_from_db()
    keep.refresh_from_db()
    assert cancel.status == "CANCELED" and cancel.reason == "customer_replied"
    assert keep.status == "SCHEDULED"


def test_it_keeps_a_follow_up_scheduled_after_the_customer_wrote(telegram, telegram_api):
    telegram.last_customer_message_at = timezone.now()
    telegram.save()
    followup = _due(telegram, text="answering your question")
    assert _claim_and_deliver() == ["sent"]
    assert FollowUp.objects.get(pk=followup.pk).status == "SENT"


def test_it_counts_replies_from_a_reschedule_on(telegram, telegram_api):
    followup = _due(telegram, text="x")
    Conversation.objects.filter(pk=telegram.pk).update(last_customer_message_at=timezone.now())
    assert _claim_and_deliver() == []
    followup.refresh_from_db()
    assert followup.status == "CANCELED" and followup.reason == "customer_replied"
    services.followup_reschedule(followup=followup, due_at=timezone.now() - dt.timedelta(seconds=1))
    assert _claim_and_deliver() == ["sent"]  # staff rescheduled it after reading the reply


def test_it_does_not_send_a_claimed_follow_up_canceled_before_its_request(telegram, telegram_api):
    _due(telegram, text="x")
    [pk] = services.followups_claim_due()
    token = FollowUp.objects.get(pk=pk).claim_token
    Conversation.objects.filter(pk=telegram.pk).update(last_customer_message_at=timezone.now())
    assert tasks.deliver(pk, token) == "canceled"
    assert tasks.deliver(pk, token) == "stale"
    assert telegram_api.sent == []
    assert FollowUp.objects.get(pk=pk).reason == "customer_replied"


def test_it_composes_nothing_for_a_prompt_follow_up_answered_after_its_claim(telegram, telegram_api):
    _due(telegram, text="", prompt="Ask whether the parcel arrived.")
    [pk] = services.followups_claim_due()
    Conversation.objects.filter(pk=telegram.pk).update(last_customer_message_at=timezone.now())
    assert tasks.deliver(pk, FollowUp.objects.get(pk=pk).claim_token) == "canceled"
    assert not Message.objects.filter(conversation=telegram).exists() and telegram_api.sent == []


def test_it_uses_the_whatsapp_template_outside_the_window_or_skips(tenant, make_channel, whatsapp_api):
    with_template = make_channel(tenant, "whatsapp", config={"template": {"name": "follow_up"}})
    without = make_channel(tenant, "whatsapp", name="no template")
    a = conversation_for(channel=with_template, user_id="6281111")
    b = conversation_for(channel=without, user_id="6282222")
    c = conversation_for(channel=without, user_id="6283333")
    c.last_customer_message_at = timezone.now() - dt.timedelta(hours=2)
    c.save()
    fa, fb, fc = _due(a), _due(b), _due(c, text="inside the window")
    assert sorted(_claim_and_deliver()) == ["sent", "sent", "skipped"]
    fa.refresh_from_db(), fb.refresh_from_db(), fc.refresh_from_db()
    assert fa.status == "SENT" and fa.provider_message_ids
    assert fb.status == "SKIPPED" and fb.reason == "whatsapp_window_closed"
    assert fc.status == "SENT"
    by_to = {m["to"]: m for m in whatsapp_api.sent}
    assert by_to["6281111"]["type"] == "template" and by_to["6283333"]["type"] == "text"
    assert "6282222" not in by_to


def test_it_composes_a_prompt_follow_up_with_the_llm(telegram, telegram_api, kb, tenant):
    kb(tenant)
    followup = _due(telegram, text="", prompt="Remind them that express shipping to Bali costs extra.")
    assert _claim_and_deliver() == ["sent"]
    followup.refresh_from_db()
    assert followup.message is not None and followup.message.metadata.get("instruction")
    assert [m["text"] for m in telegram_api.sent] == followup.bubbles == followup.message.bubbles
    assert Message.objects.filter(role="user").count() == 0


@pytest.mark.parametrize("status,outcome,state", [(503, "retry", "SCHEDULED"), (401, "failed", "FAILED")])
def test_it_retries_composing_only_when_the_llm_error_may_pass(
    telegram, telegram_api, tenant, fake_openai, settings, status, outcome, state
):
    settings.LLM_MAX_RETRIES = 0
    tenant.llm_provider = "openai"
    tenant.save()
    fake_openai.fail(status, times=3)
    followup = _due(telegram, text="", prompt="Remind them about the unpaid order.")
    assert _claim_and_deliver() == [outcome]
    followup.refresh_from_db()
    assert followup.status == state and "compose_failed" in followup.last_error
    assert telegram_api.sent == []


def test_a_generated_follow_up_with_nothing_to_say_is_skipped_for_staff_to_see(
    telegram, telegram_api, tenant, admin_client
):
    # No knowledge at all: the offline model can only say it found nothing.
    tenant.locale = "id"
    tenant.save()
    followup = _due(telegram, text="", prompt="Ingatkan soal garansi produk.")
    assert _claim_and_deliver() == ["skipped"]
    followup.refresh_from_db()
    assert followup.status == "SKIPPED" and followup.reason == "no_answer"
    assert "nothing to say" in followup.last_error
    assert telegram_api.sent == [] and followup.bubbles == []
    assert not Message.objects.filter(conversation=telegram).exists()
    # Staff see it in the back-office with its reason.
    page = admin_client.get(f"/admin/followups/followup/{followup.pk}/change/").content.decode()
    assert "no_answer" in page and "nothing to say" in page


def test_a_model_answering_no_message_sends_nothing_and_its_tokens_count(telegram, telegram_api, tenant, fake_openai):
    from chat.models import UsageDaily

    tenant.llm_provider = "openai"
    tenant.save()
    fake_openai.reply_text("NO_MESSAGE", usage=(300, 2))
    followup = _due(telegram, text="", prompt="Tell them about today's promo if there is one.")
    assert _claim_and_deliver() == ["skipped"]
    followup.refresh_from_db()
    assert followup.reason == "no_answer" and telegram_api.sent == []
    assert "NO_MESSAGE" in fake_openai.last_body["messages"][-1]["content"]  # the model was told how
    assert UsageDaily.objects.get(tenant=tenant).tokens_in == 300


def test_it_fails_follow_ups_on_a_disabled_channel(telegram, telegram_api):
    followup = _due(telegram, text="x")
    Channel.objects.update(enabled=False, disabled_reason="revoked")
    assert _claim_and_deliver() == ["failed"]
    followup.refresh_from_db()
    assert followup.reason == "channel_disabled" and telegram_api.sent == []


def test_it_runs_the_dispatcher_loop_until_nothing_is_due(telegram, settings):
    settings.FOLLOWUP_DISPATCH_BATCH = 2
    for _ in range(5):
        _due(telegram, text="x")
    assert tasks.dispatch(loop_seconds=0) == 5
    assert FollowUp.objects.filter(status="SENDING").count() == 5


def test_it_declares_its_schedules():
    from siganteng.schedules import declared_schedules

    names = {name for name, _func, _minutes in declared_schedules()}
    assert {"followups-dispatch", "followups-reconcile", "channels-inbound-reconcile"} <= names


def test_it_cancels_and_reschedules_from_the_admin(telegram, admin_client):
    followup = _due(telegram, text="x", ago=-dt.timedelta(days=1))
    url = "/admin/followups/followup/"
    admin_client.post(url, {"action": "cancel", "_selected_action": [followup.pk]}, follow=True)
    followup.refresh_from_db()
    assert followup.status == "CANCELED" and followup.reason == "canceled_by_staff"
    admin_client.post(url, {"action": "reschedule_in_one_hour", "_selected_action": [followup.pk]}, follow=True)
    followup.refresh_from_db()
    assert followup.status == "SCHEDULED" and followup.due_at > timezone.now() + dt.timedelta(minutes=59)
    assert admin_client.get(url, {"status__exact": "SCHEDULED"}).status_code == 200
    assert admin_client.get(f"{url}{followup.pk}/change/").status_code == 200


def test_it_reschedules_to_a_chosen_time_from_the_admin(telegram, admin_client):
    followup, _ = services.followup_schedule(
        tenant=telegram.tenant, conversation=telegram, text="x", due_at=timezone.now() + dt.timedelta(days=1)
    )
    services.followup_cancel(followup=followup)
    url = "/admin/followups/followup/"
    form = admin_client.post(url, {"action": "reschedule_to", "_selected_action": [followup.pk]})
    assert form.status_code == 200 and b"due_at" in form.content
    admin_client.post(
        url,
        {"action": "reschedule_to", "_selected_action": [followup.pk], "apply": "1", "due_at": "2026-11-25 15:00"},
        follow=True,
    )  # 22:00 in Jakarta
    followup.refresh_from_db()
    assert followup.status == "SCHEDULED"
    assert followup.due_at == dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)  # next opening, 09:00 Jakarta


@pytest.fixture
def webhook(tenant, make_channel, local_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    channel = make_channel(tenant, "webhook", config={"url": local_server.url + "/hook"})
    return conversation_for(channel=channel, user_id="cust-1")


def test_a_webhook_delivery_whose_worker_died_mid_request_is_sent_again_with_the_same_id(webhook, local_server):
    followup = _due(webhook, text="x")
    [pk] = services.followups_claim_due()
    FollowUp.objects.filter(pk=pk).update(
        request_started_at=timezone.now(), lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    # The receiver drops a resend carrying the same webhook-id, so retrying is safe.
    assert services.followups_reconcile() == {"requeued": 1, "outcome_unknown": 0, "canceled_on_reply": 0}
    assert _claim_and_deliver() == ["sent"]
    followup.refresh_from_db()
    assert followup.status == "SENT" and not followup.needs_review
    [request] = local_server.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["webhook-id"] == f"fu_{followup.pk}"


def test_a_webhook_redelivery_of_a_started_request_sends_again(webhook, local_server):
    _due(webhook, text="x")
    [pk] = services.followups_claim_due()
    row = FollowUp.objects.get(pk=pk)
    FollowUp.objects.filter(pk=pk).update(request_started_at=timezone.now())
    assert tasks.deliver(pk, row.claim_token) == "sent"
    assert len(local_server.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_slow_delivery_keeps_its_lease_so_the_reconciler_leaves_it_alone(webhook, local_server, settings):
    import threading
    import time

    settings.FOLLOWUP_LEASE_SECONDS = 3  # renewed every second while the send runs
    local_server.handler = lambda req: Reply(200, {"ok": True}, delay=4.5)
    followup = _due(webhook, text="x")
    [pk] = services.followups_claim_due()
    token = FollowUp.objects.get(pk=pk).claim_token
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(tasks.deliver(pk, token)))
    worker.start()
    reconciled = []
    while worker.is_alive():
        reconciled.append(services.followups_reconcile())
        time.sleep(0.5)
    worker.join()
    assert outcome == ["sent"]
    assert all(r == {"requeued": 0, "outcome_unknown": 0, "canceled_on_reply": 0} for r in reconciled), reconciled
    assert FollowUp.objects.get(pk=followup.pk).status == "SENT" and len(local_server.requests) == 1


def test_each_dispatcher_pass_starts_a_fresh_debug_query_log(settings):
    """With DEBUG on, Django keeps a connection's last 9,000 queries until a request
    starts; the dispatcher's loop never serves one, so each pass counts as one."""
    from django.db import connection, reset_queries

    settings.DEBUG = True
    reset_queries()
    services.followups_dispatch(loop_seconds=0)
    one_pass = len(connection.queries)
    services.followups_dispatch(loop_seconds=0.5, interval=0.05)
    assert 0 < len(connection.queries) <= one_pass
