"""How a tenant's agent is doing, read from its conversations (the back-office analytics).

Everything is computed from the rows, for one tenant, a date range (UTC days, both ends
included) and optionally one channel: conversations and messages per day, the automation
rate (answered conversations that no person was asked for), handoffs and their reasons,
the median time to the bot's first answer and to a person's first reply after a
handoff, the feedback score, and tokens and cost per day against the monthly token
budget.

Handoffs are read from the conversations' ``handoff`` events, which stay when the
conversation goes back to the bot (its ``handoff_reason`` does not).
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from chat import handoff, usage
from chat.models import Conversation, ConversationEvent, Feedback, Message, UsageDaily
from tenants.models import Tenant

MAX_DAYS = 366


@dataclass
class Report:
    tenant: Tenant
    start: dt.date
    end: dt.date
    channel: str
    days: list[dt.date]
    conversations_per_day: list[int]
    user_messages_per_day: list[int]
    answers_per_day: list[int]
    tokens_per_day: list[int]
    cost_per_day: list[Decimal]
    human_first_response_per_day: list[float | None] = field(default_factory=list)  # median, seconds
    conversations: int = 0
    answered: int = 0
    handoffs: int = 0
    handoff_reasons: list[tuple[str, int]] = field(default_factory=list)
    first_response_median_s: float | None = None
    human_first_response_median_s: float | None = None
    handoffs_replied: int = 0
    handoffs_unreplied: int = 0
    feedback_up: int = 0
    feedback_down: int = 0
    tokens_month: int = 0
    monthly_budget: int | None = None

    @property
    def automation_rate(self) -> float | None:
        if not self.answered:
            return None
        return max(0, self.answered - self.handoffs) / self.answered

    @property
    def handoff_rate(self) -> float | None:
        return self.handoffs / self.conversations if self.conversations else None

    @property
    def feedback_score(self) -> float | None:
        total = self.feedback_up + self.feedback_down
        return self.feedback_up / total if total else None

    @property
    def daily_token_budget(self) -> float | None:
        """The monthly budget spread over a 30-day month, for the per-day chart's line."""
        return self.monthly_budget / 30 if self.monthly_budget else None

    @property
    def cost_total(self) -> Decimal:
        return sum(self.cost_per_day, Decimal(0))


def _per_day(rows: QuerySet, days: list[dt.date], value: str = "n") -> list:
    by_day = {r["day"]: r[value] for r in rows}
    return [by_day.get(d) or 0 for d in days]


def report(*, tenant: Tenant, start: dt.date, end: dt.date, channel: str = "") -> Report:
    """The analytics of ``tenant`` from ``start`` to ``end`` (UTC days, inclusive),
    optionally for one ``channel`` (a conversation channel: api, telegram, ...)."""
    end = max(start, min(end, start + dt.timedelta(days=MAX_DAYS - 1)))
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    conversations = Conversation.objects.filter(tenant=tenant, created_at__gte=lo, created_at__lt=hi)
    messages = Message.objects.filter(tenant=tenant, created_at__gte=lo, created_at__lt=hi)
    if channel:
        conversations = conversations.filter(channel=channel)
        messages = messages.filter(conversation__channel=channel)

    by_day = TruncDate("created_at", tzinfo=dt.UTC)
    conv_rows = conversations.annotate(day=by_day).values("day").annotate(n=Count("pk")).order_by()
    msg_rows = (
        messages.filter(role__in=("user", "assistant"))
        .annotate(day=by_day)
        .values("day", "role")
        .annotate(n=Count("pk"))
        .order_by()
    )
    msg_by = {(r["day"], r["role"]): r["n"] for r in msg_rows}

    usage_rows = UsageDaily.objects.filter(tenant=tenant, date__gte=start, date__lte=end)
    # Usage is rolled up per day and provider, not per channel: the channel filter does not apply.
    tokens = {r["date"]: (r["tin"] or 0) + (r["tout"] or 0) for r in _usage_by_day(usage_rows)}
    costs = {r["date"]: r["cost"] or Decimal(0) for r in _usage_by_day(usage_rows)}

    result = Report(
        tenant=tenant,
        start=start,
        end=end,
        channel=channel,
        days=days,
        conversations_per_day=_per_day(conv_rows, days),
        user_messages_per_day=[msg_by.get((d, "user"), 0) for d in days],
        answers_per_day=[msg_by.get((d, "assistant"), 0) for d in days],
        tokens_per_day=[tokens.get(d, 0) for d in days],
        cost_per_day=[costs.get(d, Decimal(0)) for d in days],
        monthly_budget=tenant.monthly_token_budget,
        tokens_month=usage.tokens_this_month(tenant),
    )

    # The bot's first answer: staff replies are timed apart, from the handoff (below).
    bot_answer = Q(messages__role="assistant") & ~Q(messages__provider="staff")
    per_conversation = conversations.annotate(
        first_question=Min("messages__created_at", filter=Q(messages__role="user")),
        first_answer=Min("messages__created_at", filter=bot_answer),
    ).values_list("first_question", "first_answer")
    waits = []
    for question, answer in per_conversation:
        result.conversations += 1
        if answer is not None:
            result.answered += 1
            if question is not None and answer >= question:
                waits.append((answer - question).total_seconds())
    result.first_response_median_s = statistics.median(waits) if waits else None

    handoff_events = ConversationEvent.objects.filter(tenant=tenant, kind="handoff")
    result.handoffs = conversations.filter(Exists(handoff_events.filter(conversation=OuterRef("pk")))).count()
    reasons = Counter(
        handoff.reason_code(reason, actor)
        for reason, actor in handoff_events.filter(conversation__in=conversations).values_list("reason", "actor_label")
    )
    result.handoff_reasons = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    _human_first_response(result, tenant=tenant, lo=lo, hi=hi, channel=channel)

    ratings = Feedback.objects.filter(message__in=messages).values("value").annotate(n=Count("pk")).order_by()
    for row in ratings:
        if row["value"] == Feedback.Value.UP:
            result.feedback_up = row["n"]
        elif row["value"] == Feedback.Value.DOWN:
            result.feedback_down = row["n"]
    return result


def _human_first_response(result: Report, *, tenant: Tenant, lo: dt.datetime, hi: dt.datetime, channel: str) -> None:
    """How long customers waited for a person: for each handoff in the range, the time
    to the first staff reply in that conversation before the handoff ended (given back
    to the bot, closed, or handed off again). Working hours or not, this is what the
    customer waited. A handoff that ended, or is still open, without a reply counts as
    unreplied and has no time."""
    handoffs = ConversationEvent.objects.filter(tenant=tenant, kind="handoff", created_at__gte=lo, created_at__lt=hi)
    if channel:
        handoffs = handoffs.filter(conversation__channel=channel)
    started = list(handoffs.values_list("conversation_id", "created_at"))
    if not started:
        result.human_first_response_per_day = [None] * len(result.days)
        return
    ids = {conversation for conversation, _ in started}
    replies: dict = defaultdict(list)
    for conversation, at in (
        Message.objects.filter(conversation_id__in=ids, provider="staff", created_at__gte=lo)
        .order_by("created_at")
        .values_list("conversation_id", "created_at")
    ):
        replies[conversation].append(at)
    endings: dict = defaultdict(list)
    for conversation, at in (
        ConversationEvent.objects.filter(conversation_id__in=ids, kind__in=("handoff", "release", "close"))
        .filter(created_at__gte=lo)
        .order_by("created_at")
        .values_list("conversation_id", "created_at")
    ):
        endings[conversation].append(at)

    waits_by_day: dict[dt.date, list[float]] = defaultdict(list)
    for conversation, at in started:
        ends = endings[conversation]
        later = ends[bisect.bisect_right(ends, at) :]  # this handoff's own event is at ``at``
        end = later[0] if later else None
        times = replies[conversation]
        i = bisect.bisect_left(times, at)
        if i < len(times) and (end is None or times[i] < end):
            waits_by_day[at.astimezone(dt.UTC).date()].append((times[i] - at).total_seconds())
            result.handoffs_replied += 1
        else:
            result.handoffs_unreplied += 1
    waits = [w for day in waits_by_day.values() for w in day]
    result.human_first_response_median_s = statistics.median(waits) if waits else None
    result.human_first_response_per_day = [
        statistics.median(waits_by_day[d]) if waits_by_day.get(d) else None for d in result.days
    ]


def duration(seconds: float | None) -> str:
    """``38 s``, ``4.5 min``, ``2.1 h`` (``–`` for none): a wait as a person reads it."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return _("%(n)s s") % {"n": f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"}
    if seconds < 90 * 60:
        return _("%(n)s min") % {"n": f"{seconds / 60:.1f}"}
    return _("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}


def _usage_by_day(rows: QuerySet[UsageDaily]) -> QuerySet:
    return rows.values("date").annotate(tin=Sum("tokens_in"), tout=Sum("tokens_out"), cost=Sum("cost")).order_by()
