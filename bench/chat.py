"""Throughput and latency of POST /api/v1/chat beside /healthz, under gunicorn on loopback.

Builds (once, reused on later runs) a 10,000-chunk knowledge base for tenant ``bench``
from the NFCorpus abstracts through ``knowledge.services.document_upsert`` (copies with
new external ids until 10,000 chunks exist), with the offline ``extractive`` provider
and no embedder; starts gunicorn on 127.0.0.1; then, in the same run, sends ``--requests``
GETs to /healthz and ``--requests`` chat requests (NFCorpus questions, one new end user
per request) from ``--concurrency`` client threads.

Each chat response carries ``Server-Timing: retrieval;dur=…, provider;dur=…, tools;dur=…,
other;dur=…``. The table splits the client-measured latency into retrieval, provider
and everything else (= total − retrieval − provider: HTTP, auth, prompt, bubbles,
persistence, JSON).

    .venv/bin/python bench/chat.py [--requests 500] [--concurrency 4] [--workers 2]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_chat .venv/bin/python bench/chat.py

``--instrumentation`` starts two servers on the same database instead: one as
production runs (``METRICS_ENABLED=true``, a JSON access line at ``INFO`` per request on
standard error, a pipe this script drains as a log shipper would) and one with neither
(``METRICS_ENABLED=false``, ``LOG_LEVEL=WARNING``). The same requests go to each in
alternating rounds (``--rounds``, fresh servers each round), so both see the same
machine; it prints each side's p50 and the difference, what the instrumentation costs.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

from cryptography.fernet import Fernet

# Python puts this script's directory first on sys.path; the project root is what the
# imports need, and bench/'s other scripts must not shadow anything.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import re
import statistics
import subprocess
import threading
import time

import httpx

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
DATA = Path(os.environ.get("SHARED_DATA", BASE.parent / "shared" / "data")) / "beir-nfcorpus-test"
TARGET_CHUNKS = 10_000


def _secrets_key() -> str:
    """The bench database's encryption key, kept beside it: the database (and its tenant's
    encrypted fields) is reused by later runs, so its key must be too."""
    path = BASE / "var" / "bench" / "chat.secrets-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
    return path.read_text().strip()


def bench_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")
    env.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
    env.setdefault("SECRETS_ENCRYPTION_KEYS", _secrets_key())
    env.setdefault("SQLITE_PATH", str(BASE / "var" / "bench" / "chat.sqlite3"))
    env["DEBUG"] = "false"
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    env["EMBEDDER"] = "none"
    env.setdefault("LOG_LEVEL", "WARNING")
    env["PORT"] = str(port)
    return env


def prepare(env: dict[str, str]) -> tuple[str, int]:
    """Migrate, create the tenant and its key, fill the knowledge base. Returns (key, chunks)."""
    os.environ.update(env)
    Path(env["SQLITE_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    from knowledge import services as knowledge_services
    from knowledge.models import Chunk
    from tenants.models import ApiKey, Tenant
    from tenants.services import api_key_create

    call_command("migrate", verbosity=0)
    tenant, _ = Tenant.objects.update_or_create(
        id="bench",
        defaults={
            "name": "Bench",
            "locale": "en",
            "llm_provider": "extractive",
            "rate_limit_per_minute": 10_000_000,
            "persona": "You are Nova, the clinic's assistant.",
            "sop": "Answer from the knowledge base.",
            "working_hours": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            "monthly_token_budget": None,
        },
    )
    ApiKey.objects.filter(tenant=tenant).delete()
    key = api_key_create(tenant=tenant, name="bench", scopes=["chat"]).full_key
    chunks = Chunk.objects.filter(tenant=tenant).count()
    if chunks < TARGET_CHUNKS:
        corpus = [json.loads(line) for line in (DATA / "corpus.jsonl").open()]
        started = time.perf_counter()
        copy = 0
        while chunks < TARGET_CHUNKS:
            for doc in corpus:
                if chunks >= TARGET_CHUNKS:
                    break
                d = knowledge_services.document_upsert(
                    tenant=tenant,
                    external_id=f"{doc['_id']}~{copy}",
                    title=doc["title"] or doc["_id"],
                    body=doc["text"] or doc["title"],
                    index_now=True,
                )
                chunks += d.chunks.count() if d.action != "unchanged" else 0
            copy += 1
        chunks = Chunk.objects.filter(tenant=tenant).count()
        print(f"built the knowledge base: {chunks} chunks in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    from django.db import connections

    connections.close_all()
    return key, chunks


def questions() -> list[str]:
    return [json.loads(line)["text"] for line in (DATA / "queries.jsonl").open()]


_TIMING = re.compile(r"(\w+);dur=([\d.]+)")


def run_load(url: str, n: int, concurrency: int, make_request) -> tuple[float, list[dict]]:
    """``n`` requests from ``concurrency`` threads; returns (wall seconds, per-request records)."""
    records: list[dict] = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = make_request(client, i)
                total = (time.perf_counter() - t0) * 1000
                timing = {k: float(v) for k, v in _TIMING.findall(r.headers.get("server-timing", ""))}
                with lock:
                    records.append({"status": r.status_code, "total": total, **timing})

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, records


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def start_server(
    env: dict[str, str], port: int, workers: int, log: Path | None = None, lines: list[int] | None = None
) -> tuple[subprocess.Popen, str]:
    """gunicorn on ``port`` with ``workers`` sync workers; returns (process, URL) once up.
    Its standard error goes to ``log``, or is a pipe whose lines are counted in ``lines``
    (read as a log shipper would, so a log line costs the server what a pipe costs)."""
    cmd = [sys.executable, "-m", "gunicorn", "siganteng.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    cmd += ["--access-logfile", "/dev/null", "--log-level", "warning"]
    stderr = log.open("w") if log else subprocess.PIPE
    server = subprocess.Popen(cmd, cwd=BASE, env=env, stderr=stderr, text=True)
    if log is None:

        def drain() -> None:
            for _ in server.stderr:
                if lines is not None:
                    lines[0] += 1

        threading.Thread(target=drain, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, url


def requesters(url: str, key: str, qs: list[str]):
    """(chat, health): functions sending request ``i`` to ``url``."""
    headers = {"X-API-Key": key}
    run_id = time.time_ns()

    def chat(client: httpx.Client, i: int) -> httpx.Response:
        body = {"user_id": f"bench-{run_id}-{i}", "messages": [{"role": "user", "content": qs[i % len(qs)]}]}
        return client.post(f"{url}/api/v1/chat", json=body, headers=headers)

    def health(client: httpx.Client, i: int) -> httpx.Response:
        return client.get(f"{url}/healthz")

    return chat, health


def warm_up(url: str, fn, concurrency: int) -> None:
    _, warm = run_load(url, 40, concurrency, fn)
    failed = [r for r in warm if r["status"] != 200]
    if failed:
        sys.exit(f"warm-up failed ({len(failed)} non-200, status {failed[0]['status']}); see var/bench/*.log")


def compare_instrumentation(env: dict[str, str], key: str, qs: list[str], args: argparse.Namespace) -> None:
    """The two servers at once, loaded in alternating rounds; prints the p50 difference."""
    logs = BASE / "var" / "bench"
    sides = {
        "with": {**env, "METRICS_ENABLED": "true", "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"},
        "without": {**env, "METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING"},
    }
    records: dict[tuple[str, str], list[dict]] = {}
    per_round = max(1, args.requests // args.rounds)
    log_lines = {name: [0] for name in sides}
    for r in range(args.rounds):
        # Fresh servers every round: a server whose processes happen to share a core with
        # other work would otherwise bias its side for the whole run.
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            for offset, (name, side_env) in enumerate(sides.items()):
                side_env["PROMETHEUS_MULTIPROC_DIR"] = str(logs / f"metrics-{name}")
                servers[name] = start_server(side_env, args.port + offset, args.workers, lines=log_lines[name])
            for _, url in servers.values():
                for fn in requesters(url, key, qs):
                    warm_up(url, fn, args.concurrency)
            order = list(servers.items()) if r % 2 == 0 else list(servers.items())[::-1]
            for name, (_, url) in order:
                chat, health = requesters(url, key, qs)
                for label, fn in (("GET /healthz", health), ("POST /api/v1/chat", chat)):
                    _, recs = run_load(url, per_round, args.concurrency, fn)
                    records.setdefault((label, name), []).extend(recs)
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(10)
    db = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite (WAL)"
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nextractive provider, {db}, gunicorn {args.workers} sync workers each side, {args.concurrency} client "
        f"threads, {args.rounds} alternating rounds, {os.cpu_count()} CPUs, load average {load}; log lines "
        f"through the servers' standard error: {log_lines['with'][0]} with, {log_lines['without'][0]} without"
    )
    print("\n| endpoint | requests per side | p50 with ms | p50 without ms | cost ms |\n|---|---:|---:|---:|---:|")
    for label in ("GET /healthz", "POST /api/v1/chat"):
        on, off = records[(label, "with")], records[(label, "without")]
        bad = sum(r["status"] != 200 for r in on + off)
        a, b = pct([r["total"] for r in on], 0.5), pct([r["total"] for r in off], 0.5)
        print(f"| {label}{f' ({bad} non-200)' if bad else ''} | {len(on)} | {a:.2f} | {b:.2f} | {a - b:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--instrumentation", action="store_true", help="with and without metrics and access logs")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of --instrumentation")
    args = parser.parse_args()
    env = bench_env(args.port)
    key, chunks = prepare(env)
    qs = questions()

    if args.instrumentation:
        compare_instrumentation(env, key, qs, args)
        return
    gunicorn, url = start_server(env, args.port, args.workers, BASE / "var" / "bench" / "gunicorn.log")
    try:
        chat, health = requesters(url, key, qs)
        for fn in (chat, health):  # warm-up: imports, caches, connections
            warm_up(url, fn, args.concurrency)
        h_wall, h = run_load(url, args.requests, args.concurrency, health)
        c_wall, c = run_load(url, args.requests, args.concurrency, chat)
    finally:
        gunicorn.terminate()
        gunicorn.wait(10)

    bad = [r["status"] for r in c + h if r["status"] != 200]
    db = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite (WAL)"
    # Other work on the machine inflates every figure; the load average says how much.
    load = ", load average {:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    print(
        f"\n{chunks} chunks, extractive provider, {db}, gunicorn {args.workers} sync workers on 127.0.0.1, "
        f"{args.concurrency} client threads, {args.requests} requests per endpoint, {os.cpu_count()} CPUs{load}"
        + (f", non-200: {len(bad)}" if bad else "")
    )
    print("\n| endpoint | req/s | p50 ms | p99 ms |\n|---|---|---|---|")
    for name, wall, recs in (("GET /healthz", h_wall, h), ("POST /api/v1/chat", c_wall, c)):
        totals = [r["total"] for r in recs]
        print(f"| {name} | {len(recs) / wall:.0f} | {pct(totals, 0.5):.1f} | {pct(totals, 0.99):.1f} |")
    else_ms = [r["total"] - r.get("retrieval", 0) - r.get("provider", 0) for r in c]
    server_else = [r.get("app", 0) - r.get("retrieval", 0) - r.get("provider", 0) for r in c]
    server_other = [r.get("other", 0) for r in c]
    print("\nPOST /api/v1/chat time split (ms):\n\n| part | p50 | p99 | mean |\n|---|---|---|---|")
    for name, vals in (
        ("retrieval (knowledge search)", [r.get("retrieval", 0) for r in c]),
        ("provider (extractive)", [r.get("provider", 0) for r in c]),
        ("everything else, client-side (total − retrieval − provider; HTTP, gunicorn queueing)", else_ms),
        ("everything else, server-side (view incl. auth − retrieval − provider)", server_else),
        ("  of which in the orchestrator (history, prompt, bubbles, persistence)", server_other),
        ("total (client)", [r["total"] for r in c]),
    ):
        print(f"| {name} | {pct(vals, 0.5):.2f} | {pct(vals, 0.99):.2f} | {statistics.mean(vals):.2f} |")


if __name__ == "__main__":
    main()
