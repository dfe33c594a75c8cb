"""Fairness between tenants on the internal runner: while one tenant floods the cluster
with long jobs, how long does another tenant's job wait to start?

    .venv/bin/python bench/fairness.py [--flood 1000] [--seconds 20] [--probes 5]
        [--database-url postgres://…] [--redis-url redis://…]

A real cluster (``manage.py qcluster``, ``Q_WORKERS`` workers, 2 by default) on a fresh
database (SQLite and the ORM broker, the embedded default, unless URLs are given). Tenant
``flood`` submits ``--flood`` jobs of ``--seconds`` each through the batch route; once its
jobs run, tenant ``other`` submits ``--probes`` short jobs one after another, each waited
for; each one's wait is its submit→start. Run twice: with the platform's per-tenant limit
(``JOBS_TENANT_CONCURRENCY``, its default) and with the limit lifted to every worker (as
if there were none). Target: with the limit, another tenant's job starts within 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

BASE = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE / "bench"]
sys.path.insert(0, str(BASE))

from bench.jobs import _fresh_postgres, pct, start_cluster, stop_cluster, wait_for  # noqa: E402


def phase(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog
    from tenants.models import Tenant
    from tenants.services import api_key_create

    call_command("migrate", verbosity=0)
    load_catalog()
    clients = {}
    for name in ("flood", "other"):
        tenant = Tenant.objects.create(id=name, name=name.title(), rate_limit_per_minute=10**7)
        clients[name] = Client(HTTP_X_API_KEY=api_key_create(tenant=tenant, name=name, scopes=["jobs"]).full_key)

    cluster = start_cluster(dict(os.environ), BASE / "var" / "bench" / f"cluster-fairness-{args.phase}.log")
    try:
        item = {"model": "echo", "prompt": "long", "input_params": {"delay_seconds": args.seconds, "steps": 4}}
        for start in range(0, args.flood, 100):
            batch = [item] * min(100, args.flood - start)
            r = clients["flood"].post("/api/v1/jobs/batch", {"jobs": batch}, content_type="application/json")
            assert r.status_code == 201, r.content
        flood_running = Job.objects.filter(tenant_id="flood", status=JobStatus.RUNNING)
        wait_for(lambda: flood_running.exists(), 60, "the flood to start")
        time.sleep(1)  # every worker the flood may take is taken by now
        running_at_once = flood_running.count()
        waits = []
        for _ in range(args.probes):
            sent = time.time()
            body = {"model": "echo", "prompt": "x"}
            r = clients["other"].post("/api/v1/jobs/", body, content_type="application/json")
            assert r.status_code == 201, r.content
            job_id = r.json()["id"]
            started = wait_for(
                lambda job_id=job_id: Job.objects.filter(pk=job_id).values_list("started_at", flat=True).first(),
                args.seconds * 3 + 60,
                "the other tenant's job",
            )
            waits.append(started.timestamp() - sent)
        return {
            "phase": args.phase,
            "db": settings.DATABASES["default"]["ENGINE"].rsplit(".")[-1],
            "broker": "redis" if settings.REDIS_URL else "orm",
            "workers": settings.Q_WORKERS,
            "limit": settings.JOBS_TENANT_CONCURRENCY,
            "flood_running": running_at_once,
            "waits": waits,
        }
    finally:
        stop_cluster(cluster)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=1000, help="long jobs the flooding tenant submits")
    parser.add_argument("--seconds", type=float, default=20, help="how long each flood job runs")
    parser.add_argument("--probes", type=int, default=5, help="short jobs the other tenant submits, one at a time")
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS of the cluster")
    parser.add_argument("--database-url", default="", help="PostgreSQL to use (its database is recreated)")
    parser.add_argument("--redis-url", default="", help="Redis to use as the broker")
    parser.add_argument("--phase", choices=["limit", "no-limit"])
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return

    (BASE / "var" / "bench").mkdir(parents=True, exist_ok=True)
    results = []
    for name in ("limit", "no-limit"):
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "siganteng.settings",
                "SECRET_KEY": env.get("SECRET_KEY", "bench"),
                "SECRETS_ENCRYPTION_KEYS": env.get("SECRETS_ENCRYPTION_KEYS") or Fernet.generate_key().decode(),
                "ALLOWED_HOSTS": "testserver",
                "Q_CLUSTER_NAME": "bench-fairness",
                "Q_WORKERS": str(args.workers),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("JOBS_TENANT_CONCURRENCY", None)
        if name == "no-limit":
            env["JOBS_TENANT_CONCURRENCY"] = str(args.workers)
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if args.database_url:
            _fresh_postgres(args.database_url)
            env["DATABASE_URL"] = args.database_url
        else:
            db = BASE / "var" / "bench" / "fairness.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            env["SQLITE_PATH"] = str(db)
        if args.redis_url:
            env["REDIS_URL"] = args.redis_url
            import redis

            redis.Redis.from_url(args.redis_url).delete("django_q:bench-fairness:q")
        cmd = [sys.executable, __file__, "--phase", name, "--flood", str(args.flood), "--seconds", str(args.seconds)]
        cmd += ["--probes", str(args.probes), "--workers", str(args.workers)]
        proc = subprocess.run(cmd, cwd=BASE, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"{name} phase failed")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    print(
        f"\nOne tenant submits {args.flood} jobs of {args.seconds:g} s; another tenant's short job, "
        f"{args.probes} times: submit→start (target with the limit: within 5 s)\n"
    )
    print("| db (broker) | per-tenant limit | workers | flood jobs running at once | other's wait p50 | max |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        limit = f"{r['limit']} (default)" if r["phase"] == "limit" else f"{r['limit']} (lifted to every worker)"
        print(
            f"| {r['db']} ({r['broker']}) | {limit} | {r['workers']} | {r['flood_running']} | "
            f"{pct(r['waits'], 0.5):.2f} s | {max(r['waits']):.2f} s |"
        )


if __name__ == "__main__":
    main()
