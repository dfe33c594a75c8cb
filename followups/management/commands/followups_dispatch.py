"""``manage.py followups_dispatch [--forever | --seconds S] [--interval I]``: a dedicated dispatcher.

``manage.py serve`` and docker-compose run it ``--forever`` next to the cluster, so
follow-ups go out within about a second of being due; the django-q2 schedule's pass once
a minute is the fallback. Claims are conditional, so any number of dispatchers (and the
schedule) run safely side by side.

While it polls, it also runs the jobs' and follow-ups' reconcilers every
``RECONCILE_INTERVAL`` seconds: a job or follow-up whose worker died is taken back within
its lease and that interval, where the once-a-minute schedule could add a minute more.

SIGTERM and SIGINT end it after the pass under way. Stopping it at any moment loses
nothing: a claim not yet handed to the queue is taken back by a reconciler when its
lease ends.
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from followups import tasks as followup_tasks
from followups.services import followups_dispatch
from jobs import tasks as job_tasks
from siganteng import shutdown


def reconcile() -> None:
    job_tasks.reconcile_jobs()
    followup_tasks.reconcile()


class Command(BaseCommand):
    help = "Claim due follow-ups and enqueue their delivery, polling for --seconds (0: one pass)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=0.0, help="Keep polling this long (0: one pass).")
        parser.add_argument("--forever", action="store_true", help="Keep polling until stopped.")
        parser.add_argument("--interval", type=float, default=settings.FOLLOWUP_DISPATCH_INTERVAL)
        parser.add_argument(
            "--reconcile-every",
            type=float,
            default=settings.RECONCILE_INTERVAL,
            help="Seconds between reconciler passes while polling (0: none).",
        )

    def handle(self, *args, seconds: float, forever: bool, interval: float, reconcile_every: float, **options):
        shutdown.prepare()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: shutdown.begin(grace=0))
        loop = float("inf") if forever else seconds
        claimed = followups_dispatch(
            loop_seconds=loop,
            interval=interval,
            reconcile=reconcile if reconcile_every > 0 and loop > 0 else None,
            reconcile_every=reconcile_every,
        )
        self.stdout.write(f"claimed {claimed} follow-up(s)")
