"""Prometheus metrics: every metric the project exposes, and one small helper per event.

Metrics live in prometheus-client's multiprocess mode: each process (gunicorn worker,
django-q2 worker, the test runner) writes its counters to memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR`` (settings point it at ``METRICS_DIR`` before this module is
imported), and ``/metrics`` adds up the files of every process, so a scrape of one web
worker counts the whole machine. ``manage.py serve`` empties the directory at start.

State that lives in the database (queued jobs, the oldest queued job) is not counted here
but read at scrape time by collectors the apps register with :func:`register_collector`
(an app to the right of ``siganteng`` may not be imported from here).

Call sites use the helpers below, never the metric objects: a helper is one line at the
call site and keeps the label set (and the optional ``tenant`` label, on only when
``METRICS_TENANT_LABEL`` is set, because one series per tenant can be many) in one place.
With ``METRICS_ENABLED`` off every helper does nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

from django.conf import settings
from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

ENABLED: bool = settings.METRICS_ENABLED
TENANT_LABEL: bool = settings.METRICS_TENANT_LABEL

# Request and task latencies: from a cached answer (ms) to a slow LLM reply (tens of s).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Follow-up lateness: due time to sent time; a minute-grained dispatcher makes seconds normal.
_LATENESS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 4 * 3600.0)


def _labels(*names: str, tenant: bool = False) -> tuple[str, ...]:
    return (*names, "tenant") if tenant and TENANT_LABEL else names


HTTP_REQUESTS = Counter(
    "siganteng_http_requests",
    "HTTP requests answered, by resolved route name (never the raw path), method and status.",
    _labels("route", "method", "status", tenant=True),
)
HTTP_DURATION = Histogram(
    "siganteng_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response object is returned), by route and method.",
    ("route", "method"),
    buckets=_LATENCY_BUCKETS,
)
CHAT_REPLIES = Counter(
    "siganteng_chat_replies",
    "Customer messages answered (or refused) by the agent, by provider and outcome.",
    _labels("provider", "outcome", tenant=True),
)
LLM_DURATION = Histogram(
    "siganteng_llm_request_duration_seconds",
    "Time of one language-model call (all retries and any fallback included), by provider and outcome.",
    ("provider", "outcome"),
    buckets=_LATENCY_BUCKETS,
)
LLM_TOKENS = Counter(
    "siganteng_llm_tokens",
    "Tokens spent answering customers, by provider, model and direction (input or output).",
    _labels("provider", "model", "direction", tenant=True),
)
LLM_COST = Counter(
    "siganteng_llm_cost_usd",
    "Cost in USD of answering customers (LLM_PRICES), by provider and model.",
    _labels("provider", "model", tenant=True),
)
RETRIEVAL_DURATION = Histogram(
    "siganteng_retrieval_duration_seconds",
    "Time of one knowledge-base search (lexical, dense and fusion together).",
    (),
    buckets=_LATENCY_BUCKETS,
)
JOB_RUNS = Counter(
    "siganteng_job_runs",
    "Internal job runs finished by the task cluster, by final status.",
    ("status",),
)
FOLLOWUP_DELIVERIES = Counter(
    "siganteng_followup_deliveries",
    "Follow-up delivery attempts by outcome (sent, retry, failed, skipped, outcome_unknown, stale, released).",
    ("outcome",),
)
FOLLOWUP_LATENESS = Histogram(
    "siganteng_followup_lateness_seconds",
    "How long after its due time a follow-up reached the customer's channel.",
    (),
    buckets=_LATENESS_BUCKETS,
)
CHANNEL_SENDS = Counter(
    "siganteng_channel_sends",
    "Outbound channel deliveries (one per message, all its bubbles), by channel kind and outcome.",
    ("kind", "outcome"),
)
RECONCILER_RECOVERIES = Counter(
    "siganteng_reconciler_recoveries",
    "Rows a reconciler took back (lost wake-ups, expired leases), by reconciler and action.",
    ("reconciler", "action"),
)
HANDOFFS = Counter(
    "siganteng_handoffs",
    "Conversations handed from the bot to a human, by reason.",
    _labels("reason", tenant=True),
)
FEEDBACK = Counter(
    "siganteng_feedback",
    "Customer ratings of answers, by channel and value (up or down).",
    _labels("channel", "value", tenant=True),
)


def _with_tenant(labels: dict[str, str], tenant_id: str | None) -> dict[str, str]:
    if TENANT_LABEL:
        labels["tenant"] = tenant_id or ""
    return labels


# --- helpers, one per event -------------------------------------------------------------


def _helper(record: Callable[..., None]) -> Callable[..., None]:
    """The helper as written, or one that does nothing when metrics are off."""
    if ENABLED:
        return record

    @functools.wraps(record)
    def off(**kwargs) -> None:
        return None

    return off


@_helper
def http_request(*, route: str, method: str, status: int, seconds: float, tenant_id: str | None) -> None:
    HTTP_REQUESTS.labels(**_with_tenant({"route": route, "method": method, "status": str(status)}, tenant_id)).inc()
    HTTP_DURATION.labels(route=route, method=method).observe(seconds)


@_helper
def chat_reply(*, provider: str, outcome: str, tenant_id: str | None) -> None:
    """``outcome``: ``answered``, ``fallback`` (answered by the fallback provider),
    ``provider_error`` or ``budget_exceeded``."""
    CHAT_REPLIES.labels(**_with_tenant({"provider": provider, "outcome": outcome}, tenant_id)).inc()


@_helper
def llm_call(*, provider: str, outcome: str, seconds: float) -> None:
    LLM_DURATION.labels(provider=provider, outcome=outcome).observe(seconds)


@_helper
def llm_usage(
    *, provider: str, model: str, input_tokens: int, output_tokens: int, cost: float, tenant_id: str | None
) -> None:
    LLM_TOKENS.labels(**_with_tenant({"provider": provider, "model": model, "direction": "input"}, tenant_id)).inc(
        input_tokens
    )
    LLM_TOKENS.labels(**_with_tenant({"provider": provider, "model": model, "direction": "output"}, tenant_id)).inc(
        output_tokens
    )
    LLM_COST.labels(**_with_tenant({"provider": provider, "model": model}, tenant_id)).inc(cost)


@_helper
def retrieval(*, seconds: float) -> None:
    RETRIEVAL_DURATION.observe(seconds)


@_helper
def job_run(*, status: str | None) -> None:
    """One internal run ended; ``None`` (a duplicate or stale wake-up) is counted as ``noop``."""
    JOB_RUNS.labels(status=status or "noop").inc()


@_helper
def followup_delivery(*, outcome: str) -> None:
    FOLLOWUP_DELIVERIES.labels(outcome=outcome).inc()


@_helper
def followup_lateness(*, seconds: float) -> None:
    FOLLOWUP_LATENESS.observe(max(0.0, seconds))


@_helper
def channel_send(*, kind: str, outcome: str) -> None:
    """``outcome``: ``sent``, ``skipped`` or the transport error's code."""
    CHANNEL_SENDS.labels(kind=kind, outcome=outcome).inc()


@_helper
def reconciled(*, reconciler: str, counts: Mapping[str, int]) -> None:
    """Add a reconciler pass's counts (``{"requeued": 2, ...}``); zeros add nothing."""
    for action, n in counts.items():
        if n:
            RECONCILER_RECOVERIES.labels(reconciler=reconciler, action=action).inc(n)


@_helper
def handoff(*, reason: str, tenant_id: str | None) -> None:
    """A conversation moved from the bot to a human; ``reason`` is the trigger's code."""
    HANDOFFS.labels(**_with_tenant({"reason": reason}, tenant_id)).inc()


@_helper
def feedback(*, channel: str, value: str, tenant_id: str | None) -> None:
    FEEDBACK.labels(**_with_tenant({"channel": channel, "value": value}, tenant_id)).inc()


# --- collectors read at scrape time ------------------------------------------------------

_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add a collector whose ``collect()`` reads the database at scrape time; apps call
    this from ``AppConfig.ready``."""
    if collector not in _collectors:
        _collectors.append(collector)


def collectors() -> Iterable[Collector]:
    return list(_collectors)
