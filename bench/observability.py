"""What the instrumentation costs, per request and per task, and what a /metrics scrape
takes.

**Cost** (``--only cost``), in one process on a temporary SQLite database (one tenant
with a small knowledge base), in alternating rounds so both sides see the same machine:
each case with the instrumentation as production runs it (``METRICS_ENABLED=true``, a
JSON line at ``INFO`` per request, written to /dev/null as to a supervisor's pipe) and
without (the metric helpers doing nothing and ``LOG_LEVEL=WARNING``, as
``METRICS_ENABLED=false`` runs):

- requests through the whole middleware stack: ``GET /healthz``, an authenticated
  ``GET /api/v1/tenants/{id}/settings`` and ``POST /api/v1/chat`` (extractive provider);
- tasks: a chat reply (``chat.services.reply``, the body of the reply task) and a job run
  (``jobs.tasks.run_job`` on an ``echo`` job).

Times are the process's CPU time (``time.process_time``), not wall-clock: on a shared
machine the wall-clock time of one process is mostly its wait for a core, which the
instrumentation does not change. (``bench/api.py --instrumentation`` and ``bench/chat.py
--instrumentation`` measure the same over HTTP, wall-clock.)

**Scrape** (``--only scrape``): ``/metrics`` with the tenant label on and ``--tenants``
tenants' series (HTTP routes, replies, tokens, cost, feedback, handoffs for each) written
by ``--processes`` other processes besides this one, and ``--jobs`` rows in the jobs
table: its p50/p95 served by gunicorn (two workers, wall-clock over HTTP) and in this
process (wall-clock and CPU), and where the time goes.

    .venv/bin/python bench/observability.py [--rounds 6] [--requests 300] [--replies 60]
        [--tenants 50] [--processes 6] [--jobs 20000] [--scrapes 100] [--only cost|scrape]
        [--database-url postgres://…/a_throwaway_db]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent


def _setup(tmp: Path, database_url: str = "") -> None:
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
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    import logging

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The log lines leave the process as they do under a supervisor: into a pipe another
    # process drains (here /dev/null).
    for handler in logging.getLogger().handlers:
        handler.setStream(open(os.devnull, "a"))  # noqa: SIM115 - open for the run


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


HELPERS = (
    "http_request",
    "chat_reply",
    "llm_call",
    "llm_usage",
    "retrieval",
    "job_run",
    "followup_delivery",
    "followup_lateness",
    "channel_send",
    "reconciled",
    "handoff",
    "feedback",
)


def _instrumented(on: bool) -> None:
    """As a process started with ``METRICS_ENABLED=true`` and ``LOG_LEVEL=INFO`` (JSON
    lines, to a file) runs, or, off, as one with ``METRICS_ENABLED=false`` and
    ``LOG_LEVEL=WARNING``: the metric helpers do nothing and no access line is written."""
    import logging

    from siganteng import metrics

    if not hasattr(metrics, "_bench_real"):
        metrics._bench_real = {name: getattr(metrics, name) for name in HELPERS}
    for name in HELPERS:
        setattr(metrics, name, metrics._bench_real[name] if on else (lambda **kw: None))
    logging.getLogger().setLevel(logging.INFO if on else logging.WARNING)


def _compare(cases: dict[str, Callable[[int], object]], rounds: int, n: int) -> dict[str, tuple[list, list]]:
    """CPU ms of each case's call ``n`` times a round, instrumented and not, the sides
    alternating which goes first (every call adds rows the later ones read past)."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for label, call in cases.items():
        on: list[float] = []
        off: list[float] = []
        for i in range(n):  # warm-up: caches, the first rows
            call(-1 - i)
        for r in range(rounds):
            sides = ((on, True), (off, False))
            for side, instrumented in sides if r % 2 == 0 else sides[::-1]:
                _instrumented(instrumented)
                for i in range(n):
                    t = time.process_time()
                    call(r * n + i)
                    side.append((time.process_time() - t) * 1000)
        out[label] = (on, off)
    _instrumented(True)
    return out


def bench_costs(rounds: int, n: int, replies: int) -> dict[str, tuple[list, list]]:
    """Per request (the whole middleware stack, as the test client drives it) and per
    task (what the reply task and the job runner execute), with and without."""
    from django.test import Client
    from rest_framework.test import APIClient

    from chat import services
    from jobs import services as job_services
    from jobs import tasks
    from jobs.seed import load_catalog
    from knowledge import services as knowledge_services
    from tenants.models import Tenant
    from tenants.services import api_key_create

    tenant = Tenant.objects.create(
        id="bench", name="Bench", persona="p", sop="s", rate_limit_per_minute=10**9, monthly_token_budget=None
    )
    for i in range(20):
        knowledge_services.document_upsert(
            tenant=tenant,
            external_id=f"shipping-{i}",
            title=f"Shipping {i}",
            body=f"Shipping to Bali takes {i % 4 + 2} days. Orders to Jakarta arrive in 1-2 days. Express: Rp 25.000.",
            index_now=True,
        )
    load_catalog()
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=api_key_create(tenant=tenant, name="bench", scopes=["admin", "chat"]).full_key)
    web = Client()

    def chat_request(i: int) -> None:
        body = {"user_id": f"http-{i}", "messages": [{"role": "user", "content": "How long to Bali?"}]}
        assert api.post("/api/v1/chat", body, format="json").status_code == 200

    def job_run(i: int) -> None:
        job, _ = job_services.job_submit(tenant=tenant, model_slug="echo", prompt=f"hi {i}")
        assert tasks.run_job(str(job.pk)) == "SUCCEEDED"

    requests = {
        "request: GET /healthz": lambda i: web.get("/healthz"),
        "request: GET /api/v1/tenants/{id}/settings": lambda i: api.get("/api/v1/tenants/bench/settings"),
    }
    slow = {
        "request: POST /api/v1/chat": chat_request,
        "task: a chat reply (reply task body)": lambda i: services.reply(
            tenant=tenant, user_id=f"task-{i}", channel="api", text="How long to Bali?"
        ),
        "task: a job run (echo)": job_run,
    }
    return {**_compare(requests, rounds, n), **_compare(slow, rounds, replies)}


def _record_series(tenants: int) -> None:
    """What one process that served every tenant has counted (HTTP routes, replies,
    tokens, cost, feedback, handoffs for each); run in the bench and in each child."""
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


def _seed_jobs(total: int) -> None:
    """``total`` finished jobs and a few queued and running ones, for the scrape's
    database gauges to read past."""
    from jobs.models import AIModel, Job, JobStatus
    from jobs.seed import load_catalog
    from tenants.models import Tenant

    load_catalog()
    tenant, _ = Tenant.objects.get_or_create(id="bench-jobs", defaults={"name": "Jobs", "persona": "p", "sop": "s"})
    models = list(AIModel.objects.all()[:5])
    statuses = [JobStatus.SUCCEEDED] * 8 + [JobStatus.FAILED]
    rows = [Job(tenant=tenant, model=models[i % len(models)], status=statuses[i % len(statuses)]) for i in range(total)]
    rows += [Job(tenant=tenant, model=models[i % len(models)], status=JobStatus.QUEUED) for i in range(40)]
    rows += [Job(tenant=tenant, model=models[i % len(models)], status=JobStatus.RUNNING) for i in range(10)]
    Job.objects.bulk_create(rows, batch_size=2000)


def bench_scrape(tenants: int, processes: int, jobs: int, n: int) -> dict:
    """Scrapes of ``/metrics`` through the WSGI application a gunicorn worker loads
    (``siganteng.wsgi``), with ``processes`` other processes' files in the metrics
    directory (each wrote every tenant's series, as web and cluster workers do) and
    ``jobs`` rows in the jobs table."""
    import subprocess

    from django.test import Client
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    from siganteng import metrics, scrape

    for _ in range(processes):
        subprocess.run([sys.executable, __file__, "--record-series", str(tenants)], check=True, env=os.environ)
    _record_series(tenants)  # this process is a web worker that served them too
    _seed_jobs(jobs)
    import siganteng.wsgi  # noqa: F401 - loads the application as a gunicorn worker does

    client = Client()
    auth = {"Authorization": "Bearer bench-token"}
    client.get("/metrics", headers=auth)  # the first request loads the URLconf
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(n):
        t, w = time.process_time(), time.perf_counter()
        resp = client.get("/metrics", headers=auth)
        cpu.append((time.process_time() - t) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    # Where the time goes, each part on its own (p50 wall ms).
    from django.conf import settings

    # What the view reads the files with (a tree from before ProcessFilesCollector used
    # prometheus-client's own collector, so the same bench measures both).
    files_collector = getattr(scrape, "ProcessFilesCollector", None) or (
        lambda path: MultiProcessCollector(None, path=str(path))
    )
    parts: dict[str, list[float]] = {"read the files": [], "database gauges": [], "text format": []}
    for _ in range(max(10, n // 5)):
        w = time.perf_counter()
        merged = list(files_collector(settings.METRICS_DIR).collect())
        parts["read the files"].append((time.perf_counter() - w) * 1000)
        w = time.perf_counter()
        for collector in metrics.collectors():
            list(collector.collect())
        parts["database gauges"].append((time.perf_counter() - w) * 1000)
        registry = CollectorRegistry()
        registry.register(_Fixed(merged))
        w = time.perf_counter()
        generate_latest(registry)
        parts["text format"].append((time.perf_counter() - w) * 1000)
    text = resp.content.decode()
    return {
        "cpu": cpu,
        "wall": wall,
        "parts": {k: statistics.median(v) for k, v in parts.items()},
        "files": len(list(Path(settings.METRICS_DIR).glob("*.db"))),
        "samples": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "size": len(resp.content),
    }


def bench_scrape_served(n: int) -> list[float]:
    """Wall-clock ms of ``n`` scrapes over HTTP from gunicorn (two workers, as
    ``manage.py serve`` runs it) on the same database and metrics directory."""
    import socket
    import subprocess

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1"}
    cmd = [sys.executable, "-m", "gunicorn", "siganteng.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--workers", "2", "--worker-class", "gthread", "--threads", "8", "--log-level", "warning"]
    # Its access lines go where a supervisor's pipe would take them: away.
    server = subprocess.Popen(cmd, cwd=BASE_DIR, env=env, stderr=subprocess.DEVNULL)
    times: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            auth = {"Authorization": "Bearer bench-token"}
            for _ in range(4):  # each worker's first request loads the URLconf
                client.get("/metrics", headers=auth)
            for _ in range(n):
                w = time.perf_counter()
                assert client.get("/metrics", headers=auth).status_code == 200
                times.append((time.perf_counter() - w) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return times


class _Fixed:
    """A collector answering metrics already read (to time the text format alone)."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per comparison")
    parser.add_argument("--requests", type=int, default=300, help="requests per side per round")
    parser.add_argument("--replies", type=int, default=60, help="chat replies per side per round")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--processes", type=int, default=6, help="other processes' metric files to merge")
    parser.add_argument("--jobs", type=int, default=20000, help="rows in the jobs table")
    parser.add_argument("--scrapes", type=int, default=100)
    parser.add_argument("--only", choices=("cost", "scrape"), help="run one half")
    parser.add_argument("--database-url", default="", help="a throw-away PostgreSQL database (default: SQLite)")
    parser.add_argument("--record-series", type=int, help=argparse.SUPPRESS)  # a child process's part
    args = parser.parse_args()
    if args.record_series is not None:
        sys.path.insert(0, str(BASE_DIR))
        import django

        django.setup()
        _record_series(args.record_series)
        return
    with tempfile.TemporaryDirectory(prefix="bench-obs-") as tmp:
        _setup(Path(tmp), args.database_url)
        if args.only != "scrape":
            costs = bench_costs(args.rounds, args.requests, args.replies)
            print("metrics and JSON logging, with and without (p50 CPU ms of this process)\n")
            print("| | with | without | cost | n per side |\n|---|---:|---:|---:|---:|")
            for name, (on, off) in costs.items():
                a, b = statistics.median(on), statistics.median(off)
                print(f"| {name} | {a:.3f} | {b:.3f} | {a - b:+.3f} | {len(on)} |")
            print()
        if args.only != "cost":
            s = bench_scrape(args.tenants, args.processes, args.jobs, args.scrapes)
            s["served"] = bench_scrape_served(args.scrapes)
            print(
                f"/metrics, {args.tenants} tenants, {s['files']} files ({args.processes} other processes), "
                f"{args.jobs} jobs: {s['samples']} samples, {s['size'] / 1024:.0f} KiB, n={args.scrapes}"
            )
            print(f"{'':12}{'p50':>8}{'p95':>8}{'max':>8}   (ms)")
            for name, label in (("served", "gunicorn"), ("wall", "in-process"), ("cpu", "its CPU")):
                v = s[name]
                print(f"{label:12}{statistics.median(v):8.1f}{_p(v, 0.95):8.1f}{max(v):8.1f}")
            print("parts (p50 wall ms): " + ", ".join(f"{k} {v:.1f}" for k, v in s["parts"].items()))


if __name__ == "__main__":
    main()
