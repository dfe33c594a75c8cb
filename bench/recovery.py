"""Recovery after a cluster dies: how long until another cluster has taken over the job and
the follow-up a SIGKILLed cluster was running, at the default settings.

Each trial runs what ``manage.py serve`` (and compose) run, on a fresh throw-away
database: a dedicated dispatcher (``followups_dispatch --forever``, which also runs the
reconcilers every ``RECONCILE_INTERVAL`` seconds) and ``qcluster`` A, which starts a slow
``echo`` job (a progress report every 0.25 s renews its lease) and a follow-up whose
signed-webhook request is in flight (the receiver holds the first request open); then
cluster B starts, and A is SIGKILLed (the whole process group, as a machine failure
would) at a random moment. Measured from the kill: the job RUNNING again on B, and the
follow-up's request arriving again at the receiver (resent under the same webhook-id).

Leases are the defaults (30 s, renewed every 10 s). ``CHANNEL_TIMEOUT`` is raised to 14 s
so the held request is still in flight at the kill (the timeout does not enter the
recovery: the lease is renewed while a request waits). ``--reconcile-every 0`` shows
the fallback instead: no reconciler passes from the dispatcher, only the once-a-minute
schedules (created for that run).

    .venv/bin/python bench/recovery.py [--trials 3] [--reconcile-every 10]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        Q_CLUSTER_NAME=recovery .venv/bin/python bench/recovery.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet

BASE = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE / "bench"]
sys.path.insert(0, str(BASE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("SECRETS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("VAR_DIR", str(BASE / "var" / "bench"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["OUTBOUND_ALLOW_PRIVATE"] = "true"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--reconcile-every", type=float, default=None, help="default: RECONCILE_INTERVAL")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from chat.channels.services import channel_create, conversation_for
    from followups.models import FollowUp
    from followups.services import followup_schedule
    from jobs.models import Job, JobStatus
    from jobs.seed import load_catalog
    from jobs.services import job_cancel, job_submit
    from siganteng.schedules import ensure_schedules
    from siganteng.testing import LocalServer, Recorded, Reply, kill_cluster, qcluster, subprocess_env
    from tenants.models import Tenant

    every = settings.RECONCILE_INTERVAL if args.reconcile_every is None else args.reconcile_every
    rng = random.Random(args.seed)
    arrivals: list[float] = []
    lock = threading.Lock()

    def handler(req: Recorded) -> Reply:
        with lock:
            arrivals.append(time.time())
            first = len(arrivals) == 1
        return Reply(204, delay=60.0 if first else 0.0)  # the first request stays in flight

    env = {"OUTBOUND_ALLOW_PRIVATE": "true", "CHANNEL_TIMEOUT": "14", "RECONCILE_INTERVAL": str(every)}
    rows = []
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        load_catalog()
        if every <= 0:
            ensure_schedules()
        tenant = Tenant.objects.create(id="bench-recovery", name="Bench", timezone="Asia/Jakarta")
        with LocalServer(handler) as server:
            channel, _ = channel_create(tenant=tenant, kind="webhook", name="hook", config={"url": f"{server.url}/h"})
            conversation = conversation_for(channel=channel, user_id="cust-1")
            dispatcher = subprocess.Popen(
                [sys.executable, "manage.py", "followups_dispatch", "--forever"],
                cwd=BASE,
                env=subprocess_env(**env),
                stdout=subprocess.DEVNULL,
            )
            try:
                for trial in range(1, args.trials + 1):
                    arrivals.clear()
                    with qcluster(**env) as first:
                        job = job_submit(
                            tenant=tenant, model_slug="echo", prompt="slow", input_params={"delay_seconds": 60}
                        )[0]
                        followup, _ = followup_schedule(
                            tenant=tenant,
                            conversation=conversation,
                            text=f"trial {trial}",
                            due_at=timezone.now(),
                            respect_working_hours=False,
                        )
                        while not arrivals or not Job.objects.filter(pk=job.pk, progress_percent__gt=0).exists():
                            time.sleep(0.1)
                        with qcluster(**env) as second:
                            time.sleep(4 + rng.uniform(0, 5))  # B starts; A dies at a random moment
                            job.refresh_from_db()
                            followup.refresh_from_db()
                            killed = time.time()
                            kill_cluster(first)
                            job_lease = job.lease_expires_at.timestamp() - killed
                            followup_lease = followup.lease_until.timestamp() - killed
                            taken = resent = None
                            deadline = killed + 300
                            while (taken is None or resent is None) and time.time() < deadline:
                                if (
                                    taken is None
                                    and Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=2).exists()
                                ):
                                    taken = time.time() - killed
                                with lock:
                                    if resent is None and len(arrivals) > 1:
                                        resent = arrivals[1] - killed
                                time.sleep(0.1)
                            job_cancel(job=Job.objects.get(pk=job.pk))  # frees B at its next progress report
                            sent = FollowUp.objects.filter(pk=followup.pk, status="SENT").exists()
                            kill_cluster(second)
                    rows.append((trial, job_lease, taken, followup_lease, resent, sent))
                    print(
                        f"trial {trial}: job lease left {job_lease:.1f} s, taken over after {_s(taken)}; "
                        f"follow-up lease left {followup_lease:.1f} s, resent after {_s(resent)}",
                        flush=True,
                    )
            finally:
                dispatcher.terminate()
                dispatcher.wait(timeout=30)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    broker = "redis" if settings.REDIS_URL else "orm"
    how = f"dispatcher reconciles every {every:g} s" if every > 0 else "minute schedules only"
    print(
        f"\n{connection.vendor} / {broker}; leases: jobs {settings.JOBS_LEASE_SECONDS} s, "
        f"follow-ups {settings.FOLLOWUP_LEASE_SECONDS} s; {how}\n"
    )
    print("| trial | job lease left at kill | job taken over | follow-up lease left | follow-up resent | sent |")
    print("|---:|---:|---:|---:|---:|---|")
    for trial, jl, taken, fl, resent, sent in rows:
        print(f"| {trial} | {jl:.1f} s | {_s(taken)} | {fl:.1f} s | {_s(resent)} | {'yes' if sent else 'no'} |")
    takeovers = [r[2] for r in rows if r[2] is not None] + [r[4] for r in rows if r[4] is not None]
    if takeovers:
        print(
            f"\nkill → taken over: median {statistics.median(takeovers):.1f} s, max {max(takeovers):.1f} s "
            f"({len(takeovers)} of {2 * len(rows)} recovered)"
        )


if __name__ == "__main__":
    main()
