"""``manage.py followups_dispatch [--seconds S] [--interval I]``: a dedicated dispatcher.

The django-q2 schedule runs the dispatcher once a minute; deployments (and the
benchmark) that want follow-ups out within about a second run this next to the cluster.
Claims are conditional, so it is safe alongside the schedule and other dispatchers.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from followups.services import followups_dispatch


class Command(BaseCommand):
    help = "Claim due follow-ups and enqueue their delivery, polling for --seconds (0: one pass)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=0.0, help="Keep polling this long (0: one pass).")
        parser.add_argument("--interval", type=float, default=settings.FOLLOWUP_DISPATCH_INTERVAL)

    def handle(self, *args, seconds: float, interval: float, **options) -> None:
        claimed = followups_dispatch(loop_seconds=seconds, interval=interval)
        self.stdout.write(f"claimed {claimed} follow-up(s)")
