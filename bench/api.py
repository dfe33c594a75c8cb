"""API throughput and latency under gunicorn on loopback.

Starts gunicorn (``siganteng.wsgi``) against a temporary SQLite database (migrated, one
tenant and one API key seeded), warms up, then sends a bounded load from client threads
(``--requests`` per endpoint or ``--seconds``, whichever ends first, ``--concurrency``
keep-alive connections) and prints requests/s, p50 and p99 for ``/healthz`` and for an
authenticated ``GET /api/v1/tenants/{id}/settings``, with the ratio between them.

    .venv/bin/python bench/api.py [--requests 3000] [--concurrency 16] [--workers 2]

The client runs on the same machine and competes for its cores: figures are for
comparing the two endpoints (what authentication, throttling and the ORM cost per
request), not absolute capacity.

``--instrumentation`` runs two servers side by side on the same database instead: one
as production runs (``METRICS_ENABLED=true``, a JSON access line at ``INFO`` for every
request on standard error, a pipe this script drains as a log shipper would) and one
with neither (``METRICS_ENABLED=false``, ``LOG_LEVEL=WARNING``). They are loaded in
alternating rounds, fresh servers each round, so both see the same machine; it prints
each side's p50 and the difference, the instrumentation's cost per request. Use
``--concurrency 1`` for the cost of one request rather than of a queue.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
SETUP = """
from tenants.models import Tenant
from tenants.services import api_key_create
t = Tenant.objects.create(id="bench", name="Bench", persona="p", sop="s", rate_limit_per_minute=10**9,
                          working_hours={"mon": [["09:00", "17:00"]]})
print(api_key_create(tenant=t, name="bench", scopes=["admin"]).full_key)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_load(url: str, headers: dict, total: int, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.perf_counter() + seconds

    def worker():
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(headers=headers, timeout=10) as client:
            while time.perf_counter() < deadline:
                with lock:
                    if next(counter, None) is None:
                        break
                t0 = time.perf_counter()
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - t0)
                bad += not ok
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "latencies": latencies,
        "elapsed": elapsed,
    }


def drain(stream, lines: list[int]) -> threading.Thread:
    """Read a server's standard error as a log shipper would (counting the lines), so
    its log lines cost it what a pipe costs, not a file write beside the database."""

    def read() -> None:
        for _ in stream:
            lines[0] += 1

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def start_server(env: dict, workers: int, threads: int, lines: list[int] | None = None) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free port; returns (process, base URL) once /healthz answers. With
    ``lines``, its standard error is a pipe whose lines are counted there."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "siganteng.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        stderr=subprocess.PIPE if lines is not None else None,
        text=True,
    )
    if lines is not None:
        drain(server.stderr, lines)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return server, base


def compare_instrumentation(env: dict, key: str, args: argparse.Namespace, tmp: Path) -> None:
    """Both servers at once, loaded in alternating rounds; prints the p50 difference."""
    sides = {
        "with": {**env, "METRICS_ENABLED": "true", "LOG_LEVEL": "INFO", "LOG_FORMAT": "json"},
        "without": {**env, "METRICS_ENABLED": "false", "LOG_LEVEL": "WARNING"},
    }
    targets = [
        ("GET /healthz", "/healthz", {}),
        ("GET /api/v1/tenants/{id}/settings (X-API-Key)", "/api/v1/tenants/bench/settings", {"X-API-Key": key}),
    ]
    results: dict[tuple[str, str], list[dict]] = {}
    per_round = max(1, args.requests // args.rounds)
    log_lines = {name: [0] for name in sides}
    for r in range(args.rounds):
        # Fresh servers every round: a server whose processes happen to share a core with
        # other work would otherwise bias its side for the whole run.
        servers = {}
        try:
            for name, side_env in sides.items():
                side_env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / f"metrics-{name}")
                servers[name] = start_server(side_env, args.workers, args.threads, lines=log_lines[name])
            for _, path, headers in targets:
                for _, base in servers.values():
                    run_load(base + path, headers, 100, args.concurrency, 10)  # warm-up
            order = list(servers.items()) if r % 2 == 0 else list(servers.items())[::-1]
            for name, (_, base) in order:
                for label, path, headers in targets:
                    run = run_load(base + path, headers, per_round, args.concurrency, args.seconds)
                    results.setdefault((label, name), []).append(run)
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
    print(
        f"gunicorn gthread: {args.workers} workers x {args.threads} threads each side; client: {args.concurrency} "
        f"connection(s); {args.rounds} alternating rounds; SQLite; {os.cpu_count()} CPUs; load average "
        + " / ".join(f"{x:.1f}" for x in os.getloadavg())
        + f"; log lines through the servers' standard error: {log_lines['with'][0]} with, "
        f"{log_lines['without'][0]} without\n"
    )
    print("| endpoint | requests per side | p50 with ms | p50 without ms | cost ms | req/s with | req/s without |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, _, _ in targets:
        row = {}
        for name in servers:
            runs = results[(label, name)]
            latencies = [x for run in runs for x in run["latencies"]]
            row[name] = (
                len(latencies),
                statistics.median(latencies) * 1000,
                len(latencies) / sum(run["elapsed"] for run in runs),
                sum(run["errors"] for run in runs),
            )
        (n, on, on_rps, on_err), (_, off, off_rps, off_err) = row["with"], row["without"]
        errors = f" ({on_err + off_err} errors)" if on_err + off_err else ""
        print(f"| {label}{errors} | {n} | {on:.2f} | {off:.2f} | {on - off:+.2f} | {on_rps:.0f} | {off_rps:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60, help="time bound per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--instrumentation", action="store_true", help="with and without metrics and access logs")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of --instrumentation")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="siganteng-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        SECRET_KEY="bench-only",
        SECRETS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        VAR_DIR=str(tmp),
        SQLITE_PATH=str(tmp / "bench.sqlite3"),
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="siganteng.settings",
    )
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    key = (
        subprocess.run(
            [py, "manage.py", "shell", "-c", SETUP], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    if args.instrumentation:
        compare_instrumentation(env, key, args, tmp)
        return
    server, base = start_server(env, args.workers, args.threads)
    try:
        targets = [
            ("GET /healthz", f"{base}/healthz", {}),
            (
                "GET /api/v1/tenants/{id}/settings (X-API-Key)",
                f"{base}/api/v1/tenants/bench/settings",
                {"X-API-Key": key},
            ),
        ]
        results = {}
        for name, url, headers in targets:
            run_load(url, headers, 200, args.concurrency, 10)  # warm-up: connections, imports, caches
            results[name] = run_load(url, headers, args.requests, args.concurrency, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"gunicorn gthread: {args.workers} workers x {args.threads} threads; client: {args.concurrency} "
        f"keep-alive connections; SQLite; {os.cpu_count()} CPUs\n"
    )
    print("| endpoint | requests | errors | requests/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} |")
    health, auth = results.values()
    print(
        f"\nratio settings/healthz: throughput {auth['rps'] / health['rps']:.2f}x, "
        f"p50 latency {auth['p50'] / health['p50']:.2f}x"
    )


if __name__ == "__main__":
    main()
