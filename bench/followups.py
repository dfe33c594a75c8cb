"""Follow-up delivery under load: follow-ups across tenants, all due within one minute,
delivered by two qcluster processes and two dedicated dispatchers through signed webhooks
to a local channel server that timestamps and counts every delivery.

Runs on a fresh throw-away database (Django's test-database machinery: created,
migrated, destroyed), so it never touches development data. Each dispatcher is
``manage.py followups_dispatch --forever`` with the default settings, exactly what
``manage.py serve`` and compose run next to each cluster (two of each: two ``serve``
machines, or compose scaled to two); claimed rows become one ``followups.tasks.deliver``
task each.

Lateness = when the channel server received the message − the follow-up's ``due_at``.
Deliveries/s = follow-ups / (last delivery − first due time). Duplicates = deliveries
beyond the first per follow-up; lost = follow-ups never delivered (both must be 0).

    .venv/bin/python bench/followups.py [--followups 1000] [--tenants 50] [--workers 2] [--dispatchers 2]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        Q_CLUSTER_NAME=chan .venv/bin/python bench/followups.py
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
# Running a script puts bench/ first on sys.path; import from the project root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE / "bench"]
sys.path.insert(0, str(BASE))
from bench.common import pct  # noqa: E402  (after sys.path: the project root first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followups", type=int, default=1_000)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="qcluster processes")
    parser.add_argument("--q-workers", type=int, default=2, help="worker processes in each qcluster")
    parser.add_argument("--dispatchers", type=int, default=2, help="followups_dispatch --forever processes")
    parser.add_argument("--spread", type=float, default=60.0, help="due times spread over this many seconds")
    parser.add_argument("--lead", type=float, default=15.0, help="seconds before the first due time")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from chat.channels.services import channel_create, conversation_for
    from followups.models import FollowUp
    from siganteng.testing import LocalServer, Recorded, Reply, qcluster, subprocess_env
    from tenants.models import Tenant

    received: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()

    def handler(req: Recorded) -> Reply:
        now = time.time()
        with lock:
            received[req.headers.get("webhook-id", "")].append(now)
        return Reply(204)

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with LocalServer(handler) as server:
            t_setup = time.monotonic()
            first_due = time.time() + args.lead
            rows = []
            for t in range(args.tenants):
                tenant = Tenant.objects.create(id=f"bench-fu-{t:02d}", name=f"Bench {t}", timezone="Asia/Jakarta")
                channel, _ = channel_create(
                    tenant=tenant, kind="webhook", name="hook", config={"url": f"{server.url}/t{t}"}
                )
                conversation = conversation_for(channel=channel, user_id=f"cust-{t}")
                per = args.followups // args.tenants + (1 if t < args.followups % args.tenants else 0)
                for i in range(per):
                    due = dt.datetime.fromtimestamp(
                        first_due + args.spread * ((i * args.tenants + t) % args.followups) / args.followups, tz=dt.UTC
                    )
                    rows.append(
                        FollowUp(
                            tenant=tenant,
                            conversation=conversation,
                            channel=channel,
                            user_id=conversation.user_id,
                            requested_due_at=due,
                            due_at=due,
                            run_at=due,
                            text=f"Follow-up {i} for tenant {t}",
                            respect_working_hours=False,
                        )
                    )
            FollowUp.objects.bulk_create(rows, batch_size=1000)
            print(
                f"created {len(rows)} follow-ups for {args.tenants} tenants in {time.monotonic() - t_setup:.1f} s; "
                f"database {connection.vendor}, broker {'redis' if settings.REDIS_URL else 'orm'}",
                flush=True,
            )

            env = {"OUTBOUND_ALLOW_PRIVATE": "true", "Q_WORKERS": str(args.q_workers)}
            with contextlib.ExitStack() as stack:
                for _ in range(args.workers):
                    stack.enter_context(qcluster(**env))
                for _ in range(args.dispatchers):
                    dispatcher = subprocess.Popen(
                        [sys.executable, "manage.py", "followups_dispatch", "--forever"],
                        cwd=BASE,
                        env=subprocess_env(**env),
                        stdout=subprocess.DEVNULL,
                    )
                    stack.callback(lambda d=dispatcher: (d.terminate(), d.wait(30)))
                # Until every follow-up arrived, or nothing more arrived for two minutes after
                # the last due time (a lost one), then a few seconds more for any duplicate.
                last_due, progress_at, done = first_due + args.spread, time.time(), 0
                while True:
                    with lock:
                        now_done = len(received)
                    if now_done > done:
                        done, progress_at = now_done, time.time()
                    if done >= len(rows) or time.time() > max(last_due, progress_at) + 120:
                        break
                    time.sleep(0.5)
                time.sleep(5)
            due_at = {f"fu_{pk}": due.timestamp() for pk, due in FollowUp.objects.values_list("pk", "due_at")}
            statuses = dict(FollowUp.objects.values_list("status").annotate(n=django.db.models.Count("pk")))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    lateness = [times[0] - due_at[key] for key, times in received.items() if key in due_at]
    duplicates = sum(len(times) - 1 for times in received.values())
    last = max(t for times in received.values() for t in times)
    rate = len(received) / max(1e-9, last - first_due)
    print()
    lost = len(due_at) - len(set(received) & set(due_at))
    print(
        "| database / broker | follow-ups | tenants | qclusters × workers | dispatchers | delivered | lateness p50 "
        "| p95 | max | deliveries/s | duplicates | lost |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {connection.vendor} / {'redis' if settings.REDIS_URL else 'orm'} | {len(due_at):,} | {args.tenants} "
        f"| {args.workers} × {args.q_workers} | {args.dispatchers} | {len(received):,} "
        f"| {statistics.median(lateness):.2f} s | {pct(lateness, 95):.2f} s | {max(lateness):.2f} s | {rate:.0f} "
        f"| {duplicates} | {lost} |"
    )
    print(f"\nstatuses: {statuses}")


if __name__ == "__main__":
    main()
