"""Bare task throughput of the django-q2 cluster on Redis: the project's Q_CLUSTER
against django-q2's defaults for ``recycle`` and ``save_limit``.

For each configuration: enqueue ``--tasks`` no-op tasks (each one Redis INCR) through
one reused broker connection, start a real ``manage.py qcluster`` (``--workers``
workers, results stored in a temporary SQLite database), and time the first to the last
execution. Prints a table.

    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/taskqueue.py [--tasks 3000]
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography.fernet import Fernet

# Run as a script, this file's folder comes first on sys.path: put the project root there
# instead, so ``bench.taskqueue`` and ``siganteng`` import the same way in the cluster.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
_client = None


def incr(key: str) -> None:
    """The no-op task: one INCR on the bench's Redis (connection reused per worker)."""
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    _client.incr(key)


CONFIGS = {
    "django-q2 defaults (recycle 500, save_limit 250)": {"Q_RECYCLE": "500", "Q_SAVE_LIMIT": "250"},
    "project (recycle 20000, save_limit 0)": {},
    "no recycling, no results kept (recycle 0, save_limit -1)": {"Q_RECYCLE": "0", "Q_SAVE_LIMIT": "-1"},
}

ENQUEUE = """
import time
from siganteng.queue import broker, enqueue_now
b = broker(); b.purge_queue()
t0 = time.perf_counter()
for _ in range({n}):
    enqueue_now("bench.taskqueue.incr", "{key}")
print(time.perf_counter() - t0)
"""


def run(config: dict, args, redis_url: str, name: str) -> dict:
    import redis

    r = redis.Redis.from_url(redis_url)
    tmp = Path(tempfile.mkdtemp(prefix="siganteng-qbench-"))
    key = f"qbench:{os.getpid()}:{time.time_ns()}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        config,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-only",
        SECRETS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        VAR_DIR=str(tmp),
        LOG_LEVEL="WARNING",
        SQLITE_PATH=str(tmp / "q.sqlite3"),
        Q_WORKERS=str(args.workers),
        Q_CLUSTER_NAME=f"qbench{os.getpid()}",
        DJANGO_SETTINGS_MODULE="siganteng.settings",
    )
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    out = subprocess.run(
        [py, "manage.py", "shell", "-c", ENQUEUE.format(n=args.tasks, key=key)],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    enqueue_s = float(out.strip().splitlines()[-1])
    cluster = subprocess.Popen(
        [py, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + args.timeout
        first = None
        while time.monotonic() < deadline:
            done = int(r.get(key) or 0)
            if done and first is None:
                first, first_count = time.perf_counter(), done
            if done >= args.tasks:
                break
            time.sleep(0.01)
        last = time.perf_counter()
        done = int(r.get(key) or 0)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
        r.delete(key)
    rate = (done - first_count) / (last - first) if first and last > first else 0.0
    return {"name": name, "done": done, "rate": rate, "enqueue_rate": args.tasks / enqueue_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"
    rows = []
    for round_no in range(args.rounds):
        for name, config in CONFIGS.items():
            rows.append(run(config, args, redis_url, name) | {"round": round_no + 1})
    print(
        f"{args.tasks} no-op tasks (one Redis INCR each), {args.workers} workers, Redis broker, "
        f"results in SQLite; {os.cpu_count()} CPUs\n"
    )
    print("| configuration | round | executed | tasks/s executed | enqueues/s (one broker) |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['round']} | {row['done']} | {row['rate']:.0f} | {row['enqueue_rate']:.0f} |")


if __name__ == "__main__":
    main()
