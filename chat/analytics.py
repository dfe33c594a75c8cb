"""How a tenant's agent is doing, read from its conversations (the back-office analytics).

Everything is computed from the rows, for one tenant, a date range (UTC days, both ends
included) and optionally one channel: conversations and messages per day, the automation
rate (answered conversations that no human took over), handoffs and their reasons, the
median time to the first answer, the feedback score, and tokens and cost per day against
the monthly token budget.

Handoffs are read from the conversation's ``handoff_reason`` when the model has it; until
then none is recorded and every answered conversation counts as automated.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from chat import usage
from chat.models import Conversation, Feedback, Message, UsageDaily
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
    conversations: int = 0
    answered: int = 0
    handoffs: int | None = None  # None: handoffs are not recorded (yet)
    handoff_reasons: list[tuple[str, int]] = field(default_factory=list)
    first_response_median_s: float | None = None
    feedback_up: int = 0
    feedback_down: int = 0
    tokens_month: int = 0
    monthly_budget: int | None = None

    @property
    def automation_rate(self) -> float | None:
        if not self.answered:
            return None
        return (self.answered - (self.handoffs or 0)) / self.answered

    @property
    def handoff_rate(self) -> float | None:
        return None if self.handoffs is None or not self.conversations else self.handoffs / self.conversations

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


def _has_field(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


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

    per_conversation = conversations.annotate(
        first_question=Min("messages__created_at", filter=Q(messages__role="user")),
        first_answer=Min("messages__created_at", filter=Q(messages__role="assistant")),
    ).values_list("first_question", "first_answer")
    waits = []
    for question, answer in per_conversation:
        result.conversations += 1
        if answer is not None:
            result.answered += 1
            if question is not None and answer >= question:
                waits.append((answer - question).total_seconds())
    result.first_response_median_s = statistics.median(waits) if waits else None

    if _has_field(Conversation, "handoff_reason"):
        handed = conversations.exclude(handoff_reason="")
        result.handoffs = handed.count()
        result.handoff_reasons = list(
            handed.values_list("handoff_reason").annotate(n=Count("pk")).order_by("-n", "handoff_reason")
        )

    ratings = Feedback.objects.filter(message__in=messages).values("value").annotate(n=Count("pk")).order_by()
    for row in ratings:
        if row["value"] == Feedback.Value.UP:
            result.feedback_up = row["n"]
        elif row["value"] == Feedback.Value.DOWN:
            result.feedback_down = row["n"]
    return result


def _usage_by_day(rows: QuerySet[UsageDaily]) -> QuerySet:
    return rows.values("date").annotate(tin=Sum("tokens_in"), tout=Sum("tokens_out"), cost=Sum("cost")).order_by()
