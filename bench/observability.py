"""What the instrumentation costs: a request, a chat reply, and a /metrics scrape.

In one process on a temporary SQLite database (migrated, one tenant with a small
knowledge base), alternating rounds so both sides see the same machine load:

- a request: ``GET /healthz`` through the whole middleware stack, with and without
  ``MetricsMiddleware`` (the route lookup, two metric writes and the access log line);
- a chat reply (``chat.services.reply`` with the offline extractive provider): with the
  metric helpers it calls, and with them replaced by no-ops;
- a scrape of ``/metrics`` with the tenant label on and ``--tenants`` tenants' worth of
  series (HTTP routes, replies, tokens, cost, feedback, handoffs for each).

    .venv/bin/python bench/observability.py [--rounds 6] [--requests 300] [--replies 60] [--tenants 50]

Prints p50 per side and their difference (the cost of the instrumentation), and the
scrape's p50/p95 with its size. Times are the process's CPU time (``time.process_time``),
not wall-clock: on a shared machine the wall-clock time of one process is mostly its wait
for a core, which the instrumentation does not change.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def _setup(tmp: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "siganteng.settings",
            "SECRET_KEY": "bench-only",
            "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "testserver",
            "SQLITE_PATH": str(tmp / "bench.sqlite3"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
            "METRICS_TOKEN": "bench-token",
            "METRICS_TENANT_LABEL": "true",
            "LOG_LEVEL": "WARNING",  # the access line is formatted only when it is emitted
        }
    )
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_requests(rounds: int, n: int) -> tuple[list[float], list[float]]:
    from django.conf import settings
    from django.test import Client, override_settings

    without = [m for m in settings.MIDDLEWARE if m != "siganteng.middleware.MetricsMiddleware"]
    on: list[float] = []
    off: list[float] = []
    for r in range(rounds):
        sides = ((on, settings.MIDDLEWARE), (off, without))
        for side, middleware in sides if r % 2 == 0 else sides[::-1]:
            with override_settings(MIDDLEWARE=middleware):
                client = Client()
                client.get("/healthz")  # loads the middleware chain
                for _ in range(n):
                    t = time.process_time()
                    client.get("/healthz")
                    side.append((time.process_time() - t) * 1000)
    return on, off


def bench_replies(rounds: int, n: int) -> tuple[list[float], list[float]]:
    from chat import services
    from knowledge import services as knowledge_services
    from siganteng import metrics
    from tenants.models import Tenant

    tenant = Tenant.objects.create(id="bench", name="Bench", persona="p", sop="s")
    knowledge_services.document_upsert(
        tenant=tenant,
        external_id="shipping",
        title="Shipping",
        body="Shipping to Bali takes 3-4 days. Orders to Jakarta arrive in 1-2 days. Express costs Rp 25.000.",
        index_now=True,
    )
    helpers = ("chat_reply", "llm_call", "llm_usage", "retrieval")
    real = {name: getattr(metrics, name) for name in helpers}
    on: list[float] = []
    off: list[float] = []
    for i in range(n):  # warm-up: caches, the first conversation rows
        services.reply(tenant=tenant, user_id=f"warm-{i}", channel="api", text="How long to Bali?")
    for r in range(rounds):
        # Alternate which side goes first: every reply adds rows the next ones read past.
        sides = ((on, True), (off, False))
        for side, instrumented in sides if r % 2 == 0 else sides[::-1]:
            for name in helpers:
                setattr(metrics, name, real[name] if instrumented else (lambda **kw: None))
            for i in range(n):
                t = time.process_time()
                services.reply(tenant=tenant, user_id=f"u{r}-{i}", channel="api", text="How long to Bali?")
                side.append((time.process_time() - t) * 1000)
    for name in helpers:
        setattr(metrics, name, real[name])
    return on, off


def bench_scrape(tenants: int, n: int = 30) -> tuple[list[float], int, int]:
    from django.test import Client

    from siganteng import metrics

    routes = [f"route-{i}" for i in range(15)]
    for t in range(tenants):
        tenant_id = f"tenant-{t:03d}"
        for route in routes:
            for status in (200, 400):
                metrics.http_request(route=route, method="POST", status=status, seconds=0.02, tenant_id=tenant_id)
        for outcome in ("answered", "provider_error"):
            metrics.chat_reply(provider="openai", outcome=outcome, tenant_id=tenant_id)
        metrics.llm_usage(
            provider="openai", model="gpt-4o-mini", input_tokens=500, output_tokens=80, cost=0.0001, tenant_id=tenant_id
        )
        for value in ("up", "down"):
            metrics.feedback(channel="telegram", value=value, tenant_id=tenant_id)
        metrics.handoff(reason="asked_for_human", tenant_id=tenant_id)
    client = Client()
    times = []
    size = series = 0
    for _ in range(n):
        t = time.process_time()
        resp = client.get("/metrics", headers={"Authorization": "Bearer bench-token"})
        times.append((time.process_time() - t) * 1000)
        size = len(resp.content)
        series = sum(1 for line in resp.content.decode().splitlines() if line and not line.startswith("#"))
    return times, size, series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per comparison")
    parser.add_argument("--requests", type=int, default=300, help="requests per side per round")
    parser.add_argument("--replies", type=int, default=60, help="chat replies per side per round")
    parser.add_argument("--tenants", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-obs-") as tmp:
        _setup(Path(tmp))
        req_on, req_off = bench_requests(args.rounds, args.requests)
        rep_on, rep_off = bench_replies(args.rounds, args.replies)
        scrape, size, series = bench_scrape(args.tenants)
    print(f"{'':34}{'with':>10}{'without':>10}{'cost':>10}   (p50 CPU ms)")
    for name, on, off in (
        ("GET /healthz (whole stack)", req_on, req_off),
        ("chat reply (extractive)", rep_on, rep_off),
    ):
        a, b = statistics.median(on), statistics.median(off)
        print(f"{name:34}{a:10.3f}{b:10.3f}{a - b:10.3f}   n={len(on)}+{len(off)}")
    print(
        f"/metrics, {args.tenants} tenants: p50 {statistics.median(scrape):.1f} CPU ms, "
        f"p95 {_p(scrape, 0.95):.1f} CPU ms, "
        f"{series} samples, {size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
