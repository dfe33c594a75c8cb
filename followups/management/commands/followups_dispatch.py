"""``manage.py followups_dispatch [--forever | --seconds S] [--interval I]``: a dedicated dispatcher.

``manage.py serve`` and docker-compose run it ``--forever`` next to the cluster, so
follow-ups go out within about a second of being due; the django-q2 schedule's pass once
a minute is the fallback. Claims are conditional, so any number of dispatchers (and the
schedule) run safely side by side. Stopping it at any moment loses nothing: a claim not
yet handed to the queue is taken back by the reconciler when its lease ends.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from followups.services import followups_dispatch


class Command(BaseCommand):
    help = "Claim due follow-ups and enqueue their delivery, polling for --seconds (0: one pass)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=0.0, help="Keep polling this long (0: one pass).")
        parser.add_argument("--forever", action="store_true", help="Keep polling until stopped.")
        parser.add_argument("--interval", type=float, default=settings.FOLLOWUP_DISPATCH_INTERVAL)

    def handle(self, *args, seconds: float, forever: bool, interval: float, **options) -> None:
        claimed = followups_dispatch(loop_seconds=float("inf") if forever else seconds, interval=interval)
        self.stdout.write(f"claimed {claimed} follow-up(s)")
