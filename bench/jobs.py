"""Job-runner overhead on a real cluster: submit→start latency and throughput of the
trivial ``echo`` model through the whole lifecycle (API request, Job row, events,
claim, completion), beside bare django-q2 no-op tasks on the same cluster; on Redis
also bare tasks with django-q2's default cluster settings. A second table times the
cluster alone: the same number of wake-ups (bare no-ops, or jobs already submitted
through the API) waiting in the broker, drained by a freshly started cluster.

    .venv/bin/python bench/jobs.py [--n 1000] [--latency 200] [--redis-url redis://127.0.0.1:6379/5]

Each broker runs in its own child process with a fresh database (SQLite under
var/bench/, or DATABASE_URL if set) and a fresh ``manage.py qcluster``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet

BASE = Path(__file__).resolve().parent.parent
# Run as a script, bench/ itself is first on sys.path; the project root is what we need.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE / "bench"]
sys.path.insert(0, str(BASE))


# --- the no-op task the cluster runs (imported by the cluster as bench.jobs.noop) -------------


def noop(key: str) -> float:
    """Count one execution in Redis (when there is one) so throughput does not depend on
    the cluster saving results; the result is the wall-clock start time."""
    started = time.time()
    from django.conf import settings

    if settings.REDIS_URL:
        _redis().incr(key)
    return started


_r = None


def _redis():
    global _r
    if _r is None:
        import redis
        from django.conf import settings

        _r = redis.Redis.from_url(settings.REDIS_URL)
    return _r


# --- helpers --------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def wait_for(pred, timeout: float, what: str, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def start_cluster(env: dict[str, str], log: Path) -> subprocess.Popen:
    fh = open(log, "wb")  # noqa: SIM115 - lives as long as the cluster
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE,
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_cluster(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)
    # Until every worker of the group is gone, one may still pop a wake-up meant for the
    # next cluster (Redis hands a task to whoever pops it first).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


# --- one broker, in a child process ---------------------------------------------------------


def phase(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django_q.models import Task
    from django_q.tasks import async_task

    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog
    from siganteng.queue import enqueue_now
    from tenants.models import Tenant
    from tenants.services import api_key_create

    call_command("migrate", verbosity=0)
    load_catalog()
    tenant, _ = Tenant.objects.get_or_create(id="bench", defaults={"name": "Bench"})
    # Measure the runner, not the policies: no rate limit, and the per-tenant limit of
    # concurrent jobs (bench/fairness.py measures that) set to every worker.
    Tenant.objects.filter(pk="bench").update(rate_limit_per_minute=10**7, max_concurrent_jobs=settings.Q_WORKERS)
    tenant.refresh_from_db()
    key = api_key_create(tenant=tenant, name="bench", scopes=["jobs"]).full_key
    client = Client(HTTP_X_API_KEY=key)
    redis_on = bool(settings.REDIS_URL)
    env = dict(os.environ)
    logs = BASE / "var" / "bench"
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".")[-1]
    out: dict = {"broker": "redis" if redis_on else "orm", "db": engine}
    if redis_on:
        _redis().delete(f"django_q:{settings.Q_CLUSTER['name']}:q")

    def bare_counter(key: str):
        if redis_on:
            return lambda: int(_redis().get(key) or 0)
        return lambda: Task.objects.filter(group=key).count()

    def bare_run(n: int, *, reuse: bool, recorded: bool = True) -> dict:
        """n no-ops enqueued back to back. Two rates: executed, n / (first enqueue → last
        no-op run), and recorded, n / (first enqueue → last result saved by the cluster's
        monitor), the point at which a job counts as done. The run returns only once every
        result is saved, so the next measurement does not pay for this one's backlog
        (``recorded=False`` for django-q2's defaults, which prune saved results to 250)."""
        group = f"bench-{uuid.uuid4().hex[:8]}"
        count = bare_counter(group)
        t0 = time.perf_counter()
        for _ in range(n):
            if reuse:
                enqueue_now("bench.jobs.noop", group, group=group)
            else:
                async_task("bench.jobs.noop", group, group=group)
        enq = time.perf_counter() - t0
        wait_for(lambda: count() >= n, 300, f"{n} bare tasks")
        executed = time.perf_counter() - t0
        run = {"n": n, "enqueue_per_s": n / enq, "per_s": n / executed}
        if recorded:
            wait_for(lambda: Task.objects.filter(group=group).count() >= n, 300, f"{n} bare results", every=0.01)
            run["recorded_per_s"] = n / (time.perf_counter() - t0)
        return run

    def bare_latency(n: int) -> list[float]:
        group = f"lat-{uuid.uuid4().hex[:8]}"
        count = bare_counter(group)
        lat = []
        for i in range(n):
            sent = time.time()
            tid = enqueue_now("bench.jobs.noop", group, group=group)
            wait_for(lambda i=i: count() >= i + 1, 120, "a bare task")
            task = wait_for(lambda tid=tid: Task.objects.filter(id=tid).first(), 30, "the task's result")
            lat.append((task.result - sent) * 1000)
        return lat

    def job_latency(n: int) -> tuple[list[float], list[float]]:
        """Submit→start of n jobs sent one at a time, and each one's API request alone."""
        lat, requests = [], []
        for _ in range(n):
            sent = time.time()
            t0 = time.perf_counter()
            response = client.post("/api/v1/jobs/", {"model": "echo", "prompt": "x"}, content_type="application/json")
            requests.append((time.perf_counter() - t0) * 1000)
            job_id = response.json()["id"]
            started = wait_for(
                lambda job_id=job_id: (
                    Job.objects.filter(pk=job_id, status=JobStatus.SUCCEEDED)
                    .values_list("started_at", flat=True)
                    .first()
                ),
                30,
                "a job",
            )
            lat.append((started.timestamp() - sent) * 1000)
        return lat, requests

    def job_run(n: int, *, via: str) -> dict:
        """n echo jobs submitted by ``args.clients`` threads: one per request through the
        HTTP API (``api``: auth, validation, rows, events, enqueue on commit), ``args.batch``
        per request through the batch route (``batch``), or straight through the service
        (``service``)."""
        import threading

        from django.db import connection
        from django.db.models import Max

        from jobs import services

        first = time.time()
        t0 = time.perf_counter()

        def submit(count: int) -> None:
            c = Client(HTTP_X_API_KEY=key)
            if via == "batch":
                for start in range(0, count, args.batch):
                    items = [{"model": "echo", "prompt": "x"}] * min(args.batch, count - start)
                    r = c.post("/api/v1/jobs/batch", {"jobs": items}, content_type="application/json")
                    assert r.status_code == 201, r.content
            elif via == "api":
                for _ in range(count):
                    r = c.post("/api/v1/jobs/", {"model": "echo", "prompt": "x"}, content_type="application/json")
                    assert r.status_code == 201, r.content
            else:
                for _ in range(count):
                    services.job_submit(tenant=tenant, model_slug="echo", prompt="x")
            connection.close()

        share = [n // args.clients + (1 if i < n % args.clients else 0) for i in range(args.clients)]
        threads = [threading.Thread(target=submit, args=(k,)) for k in share]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        submit_s = time.perf_counter() - t0
        done = Job.objects.filter(status=JobStatus.SUCCEEDED, created_at__gte=_dt(first))
        # Counting the finished rows costs the database; checked every 0.2 s instead of
        # 0.02 s, and the end of the run is the last completed_at the runners wrote.
        wait_for(lambda: done.count() >= n, 600, f"{n} jobs", every=0.2)
        last = done.aggregate(last=Max("completed_at"))["last"].timestamp()
        return {"n": n, "submit_per_s": n / submit_s, "per_s": n / (last - first)}

    if args.phase == "redis-defaults":
        # django-q2's defaults: recycle 500, save_limit 250, poll 0.2, a new broker
        # connection per enqueue. Its own process and cluster, after the project's run.
        defaults = {**env, "Q_RECYCLE": "500", "Q_SAVE_LIMIT": "250", "Q_POLL": "0.2"}
        cluster = start_cluster(defaults, logs / "cluster-redis-defaults.log")
        try:
            bare_latency(3)
            out["bare_defaults"] = bare_run(args.n, reuse=False, recorded=False)
        finally:
            stop_cluster(cluster)
        return out

    def drain(n: int, *, jobs: bool) -> dict:
        """The cluster's own rate: n wake-ups (bare no-ops, or echo jobs submitted through
        the API) wait in the broker while no cluster runs; then a fresh cluster drains them.
        Rate = n / (first start → last finish), both read from what the workers recorded
        (the no-op's own start time and its Task row's stop time for bare tasks, the Job
        rows' started_at/completed_at for jobs), so the
        submissions and the cluster's start-up are outside the window."""
        from django.db.models import Max, Min

        first = time.time()
        if jobs:
            for _ in range(n):
                r = client.post("/api/v1/jobs/", {"model": "echo", "prompt": "x"}, content_type="application/json")
                assert r.status_code == 201, r.content
            rows = Job.objects.filter(created_at__gte=_dt(first))
            finished = rows.filter(status=JobStatus.SUCCEEDED)
            span = ("started_at", "completed_at")
        else:
            group = f"drain-{uuid.uuid4().hex[:8]}"
            for _ in range(n):
                enqueue_now("bench.jobs.noop", group, group=group)
            rows = finished = Task.objects.filter(group=group)
            span = None  # Task.started is the enqueue time: the no-op returns its own start
        cluster = start_cluster(env, logs / f"cluster-{out['broker']}-drain.log")
        try:
            wait_for(lambda: finished.count() >= n, 600, f"{n} drained")
        finally:
            stop_cluster(cluster)
        if span:
            agg = rows.aggregate(a=Min(span[0]), b=Max(span[1]))
            seconds = (agg["b"] - agg["a"]).total_seconds()
        else:
            ends = rows.values_list("result", "stopped")
            seconds = max(e.timestamp() for _, e in ends) - min(r for r, _ in ends)
        return {"n": n, "per_s": n / seconds}

    cluster = start_cluster(env, logs / f"cluster-{out['broker']}.log")
    try:
        bare_latency(5)  # warm-up: the cluster is up and every worker imported the code
        job_latency(5)
        out["bare_latency"] = bare_latency(args.latency)
        out["job_latency"], out["job_request"] = job_latency(args.latency)
        # Bare tasks and batch-route jobs alternate, round after round: the machine's speed
        # drifts between runs, and the ratio is taken within each round.
        out["rounds"] = [
            {"bare": bare_run(args.n, reuse=True), "batch": job_run(args.n, via="batch")} for _ in range(args.rounds)
        ]
        out["bare"] = _median_run([r["bare"] for r in out["rounds"]])
        out["jobs_batch"] = _median_run([r["batch"] for r in out["rounds"]])
        out["jobs"] = job_run(args.n, via="api")
        out["jobs_service"] = job_run(args.n, via="service")
    finally:
        stop_cluster(cluster)
    out["drain_bare"] = drain(args.n, jobs=False)
    out["drain_jobs"] = drain(args.n, jobs=True)
    return out


def _fresh_postgres(url: str) -> None:
    """Drop and create the benchmark's own database."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = url.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _median_run(runs: list[dict]) -> dict:
    """Each figure of a run, as the median over the rounds."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _dt(ts: float):
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


# --- the parent: both brokers, one table ----------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000, help="tasks/jobs per throughput run")
    parser.add_argument("--latency", type=int, default=200, help="tasks/jobs sent one at a time for latency")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"))
    parser.add_argument("--clients", type=int, default=2, help="threads submitting jobs")
    parser.add_argument("--batch", type=int, default=100, help="jobs per request on the batch route")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare / batch-route throughput runs")
    parser.add_argument(
        "--redis-database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_jobs"),
        help="database for the Redis run ('' for SQLite); the ORM run uses SQLite, the embedded default",
    )
    parser.add_argument(
        "--brokers",
        default="redis,redis-defaults,orm",
        help="which runs, comma-separated: redis, redis-defaults (bare tasks only), orm",
    )
    parser.add_argument("--phase", choices=["orm", "redis", "redis-defaults"])
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return

    results = []
    (BASE / "var" / "bench").mkdir(parents=True, exist_ok=True)
    for broker in [b for b in ("redis", "redis-defaults", "orm") if b in args.brokers.split(",")]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "siganteng.settings",
                "SECRET_KEY": env.get("SECRET_KEY", "bench"),
                "SECRETS_ENCRYPTION_KEYS": env.get("SECRETS_ENCRYPTION_KEYS") or Fernet.generate_key().decode(),
                "ALLOWED_HOSTS": "testserver",
                "Q_CLUSTER_NAME": f"bench-jobs-{broker.split('-')[0]}",
                "CACHE_KEY_PREFIX": "bench-jobs",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("DATABASE_URL", None)
        if broker.startswith("redis") and args.redis_database_url:
            env["DATABASE_URL"] = args.redis_database_url
            if broker == "redis":
                _fresh_postgres(args.redis_database_url)
        else:
            db = BASE / "var" / "bench" / f"jobs-{broker}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            env["SQLITE_PATH"] = str(db)
        if broker.startswith("redis"):
            env["REDIS_URL"] = args.redis_url
        else:
            env.pop("REDIS_URL", None)
        cmd = [
            sys.executable,
            __file__,
            "--phase",
            broker,
            "--n",
            str(args.n),
            "--latency",
            str(args.latency),
            "--clients",
            str(args.clients),
            "--batch",
            str(args.batch),
            "--rounds",
            str(args.rounds),
        ]
        proc = subprocess.run(cmd, cwd=BASE, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"{broker} phase failed")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if broker == "redis-defaults":
            if results and results[-1]["broker"] == "redis":
                results[-1]["bare_defaults"] = result["bare_defaults"]
        else:
            results.append(result)

    print(
        f"\n{args.n} tasks/jobs per throughput run, {args.latency} sent one at a time for latency; "
        f"bare tasks and batch-route jobs in {args.rounds} alternating rounds (medians)\n"
    )
    print("| broker (db) | what | submit→start p50 | p95 | throughput (/s) | ÷ bare executed | ÷ bare recorded |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        name = f"{r['broker']} ({r['db']})"
        bl, jl = r["bare_latency"], r["job_latency"]
        bare, recorded = r["bare"]["per_s"], r["bare"]["recorded_per_s"]
        rounds = r["rounds"]
        batch_vs_bare = statistics.median(x["batch"]["per_s"] / x["bare"]["per_s"] for x in rounds)
        batch_vs_recorded = statistics.median(x["batch"]["per_s"] / x["bare"]["recorded_per_s"] for x in rounds)
        print(
            f"| {name} | bare `async_task` no-op, executed | {pct(bl, 0.5):.1f} ms | {pct(bl, 0.95):.1f} ms | "
            f"{bare:.0f} | | |"
        )
        print(f"| {name} | bare `async_task` no-op, result recorded | | | {recorded:.0f} | | |")
        print(
            f"| {name} | `echo` jobs via the batch API ({args.batch} per request), whole lifecycle | | | "
            f"{r['jobs_batch']['per_s']:.0f} | {batch_vs_bare:.2f} | {batch_vs_recorded:.2f} |"
        )
        for what, run, lat in (
            ("`echo` job via the API, whole lifecycle", r["jobs"], jl),
            ("`echo` job via the service (no HTTP)", r["jobs_service"], None),
        ):
            p50 = f"{pct(lat, 0.5):.1f} ms | {pct(lat, 0.95):.1f} ms" if lat else " | "
            print(
                f"| {name} | {what} | {p50} | {run['per_s']:.0f} | {run['per_s'] / bare:.2f} | "
                f"{run['per_s'] / recorded:.2f} |"
            )
    print("\n| broker (db) | one job's API request (POST /api/v1/jobs/) p50 | p95 |")
    print("|---|---:|---:|")
    for r in results:
        rq = r["job_request"]
        print(f"| {r['broker']} ({r['db']}) | {pct(rq, 0.5):.1f} ms | {pct(rq, 0.95):.1f} ms |")
    for r in results:
        ratio = statistics.median(x["batch"]["per_s"] / x["bare"]["per_s"] for x in r["rounds"])
        print(
            f"\n{r['broker']}: lifecycle ratio (batch-route jobs ÷ bare no-ops executed, median of rounds): {ratio:.2f}"
        )
    for r in results:
        per_round = ", ".join(
            f"{x['batch']['per_s']:.0f} vs {x['bare']['per_s']:.0f} ({x['batch']['per_s'] / x['bare']['per_s']:.2f}) "
            f"/ {x['bare']['recorded_per_s']:.0f} ({x['batch']['per_s'] / x['bare']['recorded_per_s']:.2f})"
            for x in r["rounds"]
        )
        print(f"\n{r['broker']}, each round, batch jobs/s vs bare executed (ratio) / recorded (ratio): {per_round}")
    print("\nThe cluster alone: the same number of wake-ups already in the broker, drained by a fresh cluster\n")
    print("| broker (db) | bare no-ops (/s) | `echo` jobs submitted through the API (/s) | jobs ÷ bare |")
    print("|---|---:|---:|---:|")
    for r in results:
        b, j = r["drain_bare"]["per_s"], r["drain_jobs"]["per_s"]
        print(f"| {r['broker']} ({r['db']}) | {b:.0f} | {j:.0f} | {j / b:.2f} |")
    for r in results:
        if "bare_defaults" in r:
            d, p = r["bare_defaults"]["per_s"], r["bare"]["per_s"]
            print(
                f"\nRedis, bare no-ops: project settings {p:.0f}/s vs django-q2 defaults {d:.0f}/s "
                f"→ {p / d:.1f}×  (enqueue: {r['bare']['enqueue_per_s']:.0f}/s reused broker vs "
                f"{r['bare_defaults']['enqueue_per_s']:.0f}/s new connection each)"
            )
    for r in results:
        print(
            f"{r['broker']}: submissions {r['jobs']['submit_per_s']:.0f}/s through the API, "
            f"{r['jobs_batch']['submit_per_s']:.0f}/s through the batch API, "
            f"{r['jobs_service']['submit_per_s']:.0f}/s through the service ({args.clients} client threads)"
        )


if __name__ == "__main__":
    main()
