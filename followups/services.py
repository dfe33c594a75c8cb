"""Follow-up operations: schedule, cancel, reschedule, and the dispatch pipeline
(claim due rows → one delivery task each → send through the channel exactly once).

Exactly once rests on three conditional updates, each checked for one changed row:
the claim (SCHEDULED → SENDING with a fresh ``claim_token`` and a lease), the start of
the request (``request_started_at`` set only while still SENDING under that token), and
the outcome (written only under that token). A duplicate wake-up, a canceled row or a
row re-claimed after its lease expired all fail the check and change nothing. A row
whose worker died after ``request_started_at`` was written is never sent again: the
reconciler marks it FAILED ``outcome_unknown`` with ``needs_review`` for staff.

Cancel-on-reply is decided here, from the conversation's ``last_customer_message_at``
(which the chat app records on every customer message): a ``cancel_on_reply`` follow-up
is canceled when the customer wrote after it was scheduled. The check runs when due rows
are claimed, just before the request leaves, and in the reconciler, so the chat app
never has to know follow-ups exist.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, reset_queries, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from chat.bubbles import split
from chat.channels.base import DeliverySkipped, Outbound, TransportError
from chat.channels.registry import choices as channel_kinds
from chat.channels.registry import transport_class
from chat.channels.services import channel_send, conversation_for
from chat.handoff import SILENT
from chat.models import Channel, Conversation, Message
from chat.prompt import channel_rules
from chat.services import NothingToSay, compose
from followups.models import FollowUp
from siganteng import metrics, shutdown
from siganteng.errors import ApiError, Conflict, field_error
from siganteng.leases import kept_alive
from siganteng.queue import enqueue_now
from tenants.models import Tenant

logger = logging.getLogger(__name__)
S = FollowUp.Status

OUTCOME_UNKNOWN = "outcome_unknown"
NO_ANSWER = "no_answer"  # a generated follow-up had nothing to say: skipped, not sent
CUSTOMER_REPLIED = "customer_replied"


# --- scheduling -----------------------------------------------------------------------
def effective_due_at(*, tenant: Tenant, due_at: dt.datetime, respect_working_hours: bool) -> dt.datetime:
    """``due_at`` moved to the tenant's next opening (its timezone, holidays, DST) when
    asked; unchanged when the tenant has no working hours at all."""
    if not respect_working_hours:
        return due_at
    return tenant.next_opening(due_at) or due_at


# How far from now a follow-up may be due: a date outside this is a typo or a probe, and
# the working-hours arithmetic is only meaningful well inside the calendar's ends.
DUE_AT_MAX_AHEAD = dt.timedelta(days=5 * 366)
DUE_AT_MAX_BEHIND = dt.timedelta(days=366)


def check_due_at(due_at: dt.datetime) -> None:
    """``due_at`` must carry an offset and lie within a year back (due at once) and five
    years ahead; otherwise a 400 naming ``due_at``."""
    if due_at.tzinfo is None:
        raise field_error("due_at", "Include a timezone offset, e.g. 2026-11-23T09:00:00+07:00.")
    now = timezone.now()
    try:
        in_range = now - DUE_AT_MAX_BEHIND <= due_at <= now + DUE_AT_MAX_AHEAD
    except OverflowError:
        in_range = False
    if not in_range:
        raise field_error("due_at", "due_at must be within one year in the past and five years from now.")


def followup_schedule(
    *,
    tenant: Tenant,
    due_at: dt.datetime,
    text: str = "",
    prompt: str = "",
    conversation: Conversation | None = None,
    user_id: str = "",
    channel: Channel | None = None,
    respect_working_hours: bool = True,
    cancel_on_reply: bool = True,
    idempotency_key: str = "",
    metadata: dict[str, Any] | None = None,
) -> tuple[FollowUp, bool]:
    """Schedule a follow-up; returns ``(followup, created)``. An ``idempotency_key``
    already used by the tenant returns the existing follow-up unchanged."""
    if idempotency_key:
        existing = FollowUp.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    if bool(text.strip()) == bool(prompt.strip()):
        raise field_error("text", "Give either text or prompt (exactly one).")
    check_due_at(due_at)
    if conversation is not None:
        channel = channel or conversation.channel_ref
        if channel is None:
            raise field_error("conversation_id", "This conversation is not on a channel; pass channel_id.")
        if conversation.channel_ref_id not in (None, channel.pk):
            raise field_error("channel_id", "The conversation belongs to another channel.")
        user_id = conversation.user_id
    else:
        if channel is None:
            raise field_error("channel_id", "Give conversation_id, or user_id with channel_id.")
        if not user_id:
            raise field_error("user_id", "Give conversation_id, or user_id with channel_id.")
        conversation = conversation_for(channel=channel, user_id=user_id)
    when = effective_due_at(tenant=tenant, due_at=due_at, respect_working_hours=respect_working_hours)
    try:
        with transaction.atomic():
            followup = FollowUp.objects.create(
                tenant=tenant,
                conversation=conversation,
                channel=channel,
                user_id=user_id,
                requested_due_at=due_at,
                due_at=when,
                run_at=when,
                text=text.strip(),
                prompt=prompt.strip(),
                respect_working_hours=respect_working_hours,
                cancel_on_reply=cancel_on_reply,
                idempotency_key=idempotency_key,
                metadata=metadata or {},
                max_attempts=settings.FOLLOWUP_MAX_ATTEMPTS,
            )
    except IntegrityError:
        # Two requests with the same key raced; the other one won.
        return FollowUp.objects.get(tenant=tenant, idempotency_key=idempotency_key), False
    return followup, True


def _cancelable() -> Q:
    # A SENDING row whose request has not started yet can still be stopped: the delivery
    # task's start-of-request update requires SENDING and will then change nothing.
    return Q(status=S.SCHEDULED) | Q(status=S.SENDING, request_started_at__isnull=True)


def followup_cancel(*, followup: FollowUp, reason: str = "canceled") -> FollowUp:
    """Cancel a pending follow-up; 409 once it is being sent or finished."""
    changed = FollowUp.objects.filter(_cancelable(), pk=followup.pk).update(
        status=S.CANCELED, reason=reason, claim_token="", lease_until=None, updated_at=timezone.now()
    )
    followup.refresh_from_db()
    if not changed and followup.status != S.CANCELED:
        raise Conflict(f"The follow-up is {followup.status} and can no longer be canceled.", code="not_cancelable")
    return followup


def _replied() -> Q:
    # The customer wrote in the conversation after the follow-up was (re)scheduled.
    return Q(cancel_on_reply=True, conversation__last_customer_message_at__gt=F("scheduled_at"))


def followups_cancel_replied(*, followups: QuerySet[FollowUp] | None = None) -> int:
    """Cancel the pending ``cancel_on_reply`` follow-ups (among ``followups``, default all)
    whose customer wrote after they were scheduled; returns how many were canceled."""
    rows = FollowUp.objects.all() if followups is None else followups
    return rows.filter(_cancelable(), _replied()).update(
        status=S.CANCELED, reason=CUSTOMER_REPLIED, claim_token="", lease_until=None, updated_at=timezone.now()
    )


def followup_reschedule(*, followup: FollowUp, due_at: dt.datetime) -> FollowUp:
    """Schedule again (staff): any state but SENT and an in-flight SENDING. Attempts and
    the review flag reset; bubbles already composed are kept for the new attempt."""
    check_due_at(due_at)
    when = effective_due_at(tenant=followup.tenant, due_at=due_at, respect_working_hours=followup.respect_working_hours)
    now = timezone.now()
    changed = FollowUp.objects.filter(~Q(status__in=[S.SENT, S.SENDING]), pk=followup.pk).update(
        status=S.SCHEDULED,
        scheduled_at=now,
        requested_due_at=due_at,
        due_at=when,
        run_at=when,
        attempts=0,
        reason="",
        needs_review=False,
        claim_token="",
        lease_until=None,
        request_started_at=None,
        updated_at=now,
    )
    followup.refresh_from_db()
    if not changed:
        raise Conflict(f"A {followup.status} follow-up cannot be rescheduled.", code="not_reschedulable")
    return followup


# --- dispatch ---------------------------------------------------------------------------
def followups_claim_due(*, now: dt.datetime | None = None, limit: int | None = None) -> list[str]:
    """Claim up to ``limit`` due follow-ups (SCHEDULED → SENDING under one fresh token)
    and enqueue one delivery task each after commit. Safe to run from many processes:
    ``skip_locked`` on PostgreSQL, IMMEDIATE transactions on SQLite, and the conditional
    update everywhere. Due rows the customer has answered are canceled, not claimed."""
    now = now or timezone.now()
    limit = limit or settings.FOLLOWUP_DISPATCH_BATCH
    token = uuid.uuid4().hex
    followups_cancel_replied(followups=FollowUp.objects.filter(status=S.SCHEDULED, run_at__lte=now))
    with transaction.atomic():
        due = FollowUp.objects.filter(status=S.SCHEDULED, run_at__lte=now).order_by("run_at")
        # HANDOFF: held while a person has the conversation; they go out once it is the bot's again.
        due = due.exclude(conversation_id__in=Conversation.objects.filter(state__in=SILENT).values("pk"))
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        FollowUp.objects.filter(pk__in=ids, status=S.SCHEDULED).update(
            status=S.SENDING,
            claim_token=token,
            request_started_at=None,
            updated_at=now,
            lease_until=now + dt.timedelta(seconds=settings.FOLLOWUP_LEASE_SECONDS),
        )
        claimed = [
            str(pk) for pk in FollowUp.objects.filter(pk__in=ids, claim_token=token).values_list("pk", flat=True)
        ]
        transaction.on_commit(lambda: _enqueue_deliveries(claimed, token))
    return claimed


def _enqueue_deliveries(ids: list[str], token: str) -> None:
    """One delivery task per follow-up. With the ORM broker each enqueue is an INSERT:
    one transaction for the batch commits them together instead of once per task."""
    with transaction.atomic():
        for pk in ids:
            enqueue_now("followups.tasks.deliver", pk, token)


def followups_dispatch(
    *,
    loop_seconds: float = 0.0,
    interval: float = 1.0,
    reconcile: Callable[[], object] | None = None,
    reconcile_every: float = 10.0,
) -> int:
    """Claim due follow-ups until none are left, then keep polling every ``interval``
    seconds for ``loop_seconds`` (0: one pass; ``inf``: until stopped, or until this
    process is told to stop: siganteng.shutdown). ``reconcile``, if given, runs first
    and then every ``reconcile_every`` seconds: the dedicated dispatcher takes back the
    work of dead workers this way, well within a minute. A database error (a dropped
    connection, a failover) is logged and the next pass tries again. Returns how many
    were claimed."""
    deadline = time.monotonic() + loop_seconds
    next_reconcile = time.monotonic()
    total = 0
    while True:
        reset_queries()  # a pass is this loop's request: DEBUG's query log starts afresh
        try:
            if reconcile is not None and time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + reconcile_every
                reconcile()
            claimed = followups_claim_due()
        except DatabaseError as exc:
            if loop_seconds <= 0:
                raise
            logger.warning("A dispatcher pass failed, trying again: %s", exc)
            connection.close()
            claimed = []
        total += len(claimed)
        if shutdown.stopping():
            return total
        if len(claimed) >= settings.FOLLOWUP_DISPATCH_BATCH:
            continue  # more may be due right now
        if time.monotonic() + interval > deadline:
            return total
        time.sleep(interval)


def _bubbles_for(followup: FollowUp) -> tuple[list[str], Message | None]:
    """The message as bubbles: fixed text split by the channel's rules, or a prompt the
    LLM turns into a message from the conversation (chat.services.compose)."""
    if followup.text:
        rules = channel_rules(followup.channel.kind)
        return split(followup.text, limit=rules.max_chars, max_bubbles=followup.tenant.max_bubbles), None
    result = compose(tenant=followup.tenant, conversation=followup.conversation, instruction=followup.prompt)
    return list(result.bubbles), result.message


def _finish(pk, token: str, **fields: Any) -> bool:
    fields.setdefault("updated_at", timezone.now())
    return bool(FollowUp.objects.filter(pk=pk, claim_token=token, status=S.SENDING).update(**fields))


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600.0, settings.FOLLOWUP_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)))


def followup_deliver(*, followup_id: str, token: str) -> str:
    """Send one claimed follow-up. Returns the outcome (``sent``, ``retry``, ``failed``,
    ``skipped``, ``canceled`` (the customer wrote since it was scheduled),
    ``outcome_unknown`` or ``stale`` for a wake-up that no longer applies)."""
    followup = (
        FollowUp.objects.select_related("tenant", "channel", "conversation")
        .filter(pk=followup_id, claim_token=token, status=S.SENDING)
        .first()
    )
    if followup is None:
        return "stale"
    if followup.request_started_at is not None and not transport_class(followup.channel.kind).idempotent:
        # This claim's request already left once and its worker never recorded the outcome.
        _finish(
            followup.pk,
            token,
            status=S.FAILED,
            reason=OUTCOME_UNKNOWN,
            needs_review=True,
            last_error="The delivery was interrupted after the request left; it may have arrived.",
        )
        return OUTCOME_UNKNOWN

    with kept_alive(
        lambda: _renew_lease(followup.pk, token),
        every=settings.FOLLOWUP_LEASE_SECONDS / 3,
        # A stopping cluster hands the delivery back once its grace is over (siganteng.shutdown).
        release=lambda: followup_release(followup_id=followup.pk, token=token),
    ):
        return _deliver_claimed(followup, token)


def _renew_lease(pk, token: str) -> bool:
    return bool(
        FollowUp.objects.filter(pk=pk, claim_token=token, status=S.SENDING).update(
            lease_until=timezone.now() + dt.timedelta(seconds=settings.FOLLOWUP_LEASE_SECONDS)
        )
    )


def _deliver_claimed(followup: FollowUp, token: str) -> str:
    message = followup.message
    bubbles = followup.bubbles
    this_claim = FollowUp.objects.filter(pk=followup.pk, claim_token=token)
    if not bubbles:
        if followups_cancel_replied(followups=this_claim):
            return "canceled"  # answered since the claim: no message is composed for nothing
        try:
            bubbles, message = _bubbles_for(followup)
        except NothingToSay as exc:
            # A generated follow-up with nothing to say ("I found nothing about that")
            # must never reach the customer: skipped, with the reason for staff to see.
            _finish(followup.pk, token, status=S.SKIPPED, reason=NO_ANSWER, last_error=str(exc.detail))
            return "skipped"
        except Exception as exc:
            # Nothing was sent, so retrying is safe; whether it can help is the error's to
            # say (a spent budget or a refused request will not pass by waiting).
            logger.warning("composing follow-up %s failed: %s", followup.pk, exc)
            permanent = isinstance(exc, ApiError) and not exc.retryable
            return _after_error(
                followup,
                token,
                TransportError(f"Composing the message failed: {exc}", permanent=permanent, code="compose_failed"),
                started=False,
            )

    if followups_cancel_replied(followups=this_claim):
        return "canceled"
    # The point of no return: from here a dead worker means "outcome unknown" (except on
    # an idempotent channel, whose receiver drops a resend with the same reference). The
    # same update stores the bubbles, so a retry resends exactly this text.
    now = timezone.now()
    started = Q(request_started_at__isnull=True)
    if transport_class(followup.channel.kind).idempotent:
        started = Q()
    mine = FollowUp.objects.filter(started, pk=followup.pk, claim_token=token, status=S.SENDING)
    if not mine.update(
        request_started_at=now, attempts=F("attempts") + 1, bubbles=bubbles, message=message, updated_at=now
    ):
        return "stale"  # canceled or reclaimed in the meantime
    followup.attempts += 1
    followup.bubbles = bubbles

    sent_ids = list(followup.provider_message_ids)

    def on_sent(index: int, provider_id: str) -> None:
        sent_ids.append(provider_id)
        if index < len(bubbles) - 1:  # progress, so a retry resumes after this bubble
            FollowUp.objects.filter(pk=followup.pk, claim_token=token).update(provider_message_ids=sent_ids)

    outbound = Outbound(
        recipient=followup.user_id,
        bubbles=followup.bubbles,
        conversation=followup.conversation,
        reference=f"fu_{followup.pk}",
        metadata={"followup_id": str(followup.pk)},
    )
    try:
        channel_send(channel=followup.channel, outbound=outbound, start=len(sent_ids), on_sent=on_sent)
    except DeliverySkipped as skip:
        _finish(followup.pk, token, status=S.SKIPPED, reason=skip.reason, last_error=str(skip), request_started_at=None)
        return "skipped"
    except TransportError as exc:
        return _after_error(followup, token, exc)

    sent_at = timezone.now()
    with transaction.atomic():
        if message is None:
            message = Message.objects.create(
                tenant=followup.tenant,
                conversation=followup.conversation,
                role="assistant",
                content="\n\n".join(followup.bubbles),
                bubbles=followup.bubbles,
                external_id=(sent_ids[0] if sent_ids else "")[:200],
                metadata={"followup_id": str(followup.pk)},
            )
        if not _finish(
            followup.pk,
            token,
            status=S.SENT,
            sent_at=sent_at,
            provider_message_ids=sent_ids,
            message=message,
            reason="",
            last_error="",
            lease_until=None,
        ):
            # Taken back while the request was out (a released or expired lease, only on a
            # channel that drops resends): the new holder sends it again under the same
            # reference and records it, so this worker records nothing.
            transaction.set_rollback(True)
            return "stale"
    metrics.followup_lateness(seconds=(sent_at - followup.due_at).total_seconds())
    return "sent"


def _after_error(followup: FollowUp, token: str, exc: TransportError, *, started: bool = True) -> str:
    error = f"[{exc.code}] {exc}"[:2000]
    if not started:
        FollowUp.objects.filter(pk=followup.pk, claim_token=token).update(attempts=F("attempts") + 1)
        followup.attempts += 1
    if exc.ambiguous and not transport_class(followup.channel.kind).idempotent:
        _finish(followup.pk, token, status=S.FAILED, reason=OUTCOME_UNKNOWN, needs_review=True, last_error=error)
        return OUTCOME_UNKNOWN
    if exc.permanent:
        _finish(followup.pk, token, status=S.FAILED, reason=exc.code[:64], last_error=error)
        return "failed"
    if followup.attempts >= followup.max_attempts:
        _finish(followup.pk, token, status=S.FAILED, reason="max_attempts", last_error=error)
        return "failed"
    # Transient and nothing ambiguous went out: back to the queue, later.
    _finish(
        followup.pk,
        token,
        status=S.SCHEDULED,
        run_at=timezone.now() + _backoff(max(1, followup.attempts)),
        claim_token="",
        lease_until=None,
        request_started_at=None,
        last_error=error,
    )
    return "retry"


def _idempotent_kinds() -> list[str]:
    """Channel kinds whose receiver drops a resend with the same reference."""
    return [kind for kind, _label in channel_kinds() if transport_class(kind).idempotent]


def followup_release(*, followup_id, token: str) -> bool:
    """Give a claimed follow-up back unsent (its worker is stopping): SENDING → SCHEDULED,
    due at once, so any dispatcher claims it again. As in the reconciler, only while its
    request has not left, or on a channel that drops a resend (a signed webhook: the
    same ``webhook-id``); a request in flight on another channel is left to finish.
    Returns whether it was given back; the old worker's later writes are refused by the
    token."""
    now = timezone.now()
    held = FollowUp.objects.filter(pk=followup_id, claim_token=token, status=S.SENDING)
    return bool(
        held.filter(Q(request_started_at__isnull=True) | Q(channel__kind__in=_idempotent_kinds())).update(
            status=S.SCHEDULED, claim_token="", lease_until=None, run_at=now, updated_at=now
        )
    )


def followups_reconcile(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Repair rows whose delivery task vanished (a lost wake-up or a dead worker): SENDING
    past the lease goes back to SCHEDULED if its request never started or its channel is
    idempotent (a signed webhook: the resend carries the same ``webhook-id``), and to
    FAILED ``outcome_unknown`` / ``needs_review`` if it did (Telegram, WhatsApp). Pending
    rows the customer has answered are canceled here too, so they show as canceled
    before they come due."""
    now = now or timezone.now()
    canceled = followups_cancel_replied()
    stuck = FollowUp.objects.filter(status=S.SENDING, lease_until__lt=now)
    idempotent_kinds = _idempotent_kinds()
    retried = stuck.filter(Q(request_started_at__isnull=True) | Q(channel__kind__in=idempotent_kinds)).update(
        status=S.SCHEDULED, claim_token="", lease_until=None, run_at=now, updated_at=now
    )
    unknown = (
        stuck.filter(request_started_at__isnull=False)
        .exclude(channel__kind__in=idempotent_kinds)
        .update(
            status=S.FAILED,
            reason=OUTCOME_UNKNOWN,
            needs_review=True,
            updated_at=now,
            last_error="The worker stopped after the request left; it may have been delivered. "
            "Check with the customer, then reschedule if needed.",
        )
    )
    return {"requeued": retried, "outcome_unknown": unknown, "canceled_on_reply": canceled}
