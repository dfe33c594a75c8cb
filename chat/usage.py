"""Token usage, cost and the monthly spend gate.

Cost comes from ``settings.LLM_PRICES`` (USD per million tokens, keyed by model name);
a model without a price (the offline extractive one) costs 0. Each answered message adds
its tokens and cost to one ``UsageDaily`` row per (tenant, UTC day, provider, model)
with an atomic ``F()`` update, so concurrent replies never lose counts.

The gate: before every LLM call the tenant's tokens this calendar month (UTC) are
compared with ``Tenant.monthly_token_budget``; at or over it the call is refused with
HTTP 402 and code ``budget_exceeded``. 402 rather than 429 because waiting does not help
(until the month ends or the budget is raised) and OpenAI-style clients retry 429s
automatically, which would only hammer a refusal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from chat.models import UsageDaily
from siganteng import metrics
from siganteng.ai.base import Usage
from siganteng.errors import ApiError
from tenants.models import Tenant

_MILLION = Decimal(1_000_000)


class BudgetExceeded(ApiError):
    status_code = 402
    default_code = "budget_exceeded"


def cost_for(model: str, usage: Usage) -> Decimal:
    """USD cost of ``usage`` on ``model`` (0 for models without a price)."""
    price = settings.LLM_PRICES.get(model)
    if not price:
        return Decimal(0)
    cost = Decimal(str(price["input"])) * usage.input_tokens + Decimal(str(price["output"])) * usage.output_tokens
    return (cost / _MILLION).quantize(Decimal("0.00000001"))


def month_start(now: dt.datetime | None = None) -> dt.date:
    now = now or timezone.now()
    return now.astimezone(dt.UTC).date().replace(day=1)


def tokens_this_month(tenant: Tenant, *, now: dt.datetime | None = None) -> int:
    totals = UsageDaily.objects.filter(tenant=tenant, date__gte=month_start(now)).aggregate(
        tin=Sum("tokens_in"), tout=Sum("tokens_out")
    )
    return int(totals["tin"] or 0) + int(totals["tout"] or 0)


def check_budget(tenant: Tenant) -> None:
    """Raise :class:`BudgetExceeded` (402) when the tenant has used its monthly tokens."""
    budget = tenant.monthly_token_budget
    if budget is None:
        return
    used = tokens_this_month(tenant)
    if used >= budget:
        metrics.chat_reply(provider=tenant.llm_provider, outcome="budget_exceeded", tenant_id=tenant.pk)
        raise BudgetExceeded(
            f"The monthly token budget of {budget} is used up ({used} tokens this month).",
            fields={"monthly_token_budget": [str(budget)], "tokens_this_month": [str(used)]},
        )


def usage_record(
    *,
    tenant: Tenant,
    provider: str,
    model: str,
    usage: Usage,
    cost: Decimal,
    requests: int = 1,
    on: dt.date | None = None,
) -> None:
    """Add one answer's tokens and cost to the tenant's daily roll-up: one
    ``INSERT … ON CONFLICT DO UPDATE`` (PostgreSQL and SQLite), so concurrent replies add
    to the same row without a read, a retry or a second statement on the first of the day."""
    day = on or timezone.now().astimezone(dt.UTC).date()
    metrics.llm_usage(
        provider=provider,
        model=model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost=float(cost),
        tenant_id=tenant.pk,
    )
    meta = UsageDaily._meta
    keys = {"tenant": tenant.pk, "date": day, "provider": provider, "model": model}
    counters = {"requests": requests, "tokens_in": usage.input_tokens, "tokens_out": usage.output_tokens, "cost": cost}
    values = {**keys, **counters}
    fields = {name: meta.get_field(name) for name in values}
    quoted = {name: connection.ops.quote_name(f.column) for name, f in fields.items()}
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(quoted.values())
    conflict = ", ".join(quoted[name] for name in keys)
    adds = ", ".join(f"{quoted[name]} = {table}.{quoted[name]} + excluded.{quoted[name]}" for name in counters)
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(params))}) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {adds}",
            params,
        )
