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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60, help="time bound per endpoint")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
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
    port = free_port()
    server = subprocess.Popen(
        [
            py,
            "-m",
            "gunicorn",
            "siganteng.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
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
