"""Project-level tasks run by django-q2."""

from __future__ import annotations

import datetime as dt
import socket

from django.conf import settings
from django.utils import timezone
from django_q.models import Success

from siganteng.models import ClusterHeartbeat

SCHEDULES = [
    # (name, dotted function, minutes between runs)
    ("cluster-heartbeat", "siganteng.tasks.heartbeat", 1),
    ("prune-task-results", "siganteng.tasks.prune_task_results", 60),
]


def heartbeat() -> str:
    now = timezone.now()
    ClusterHeartbeat.objects.update_or_create(
        name=settings.Q_CLUSTER["name"], defaults={"beat_at": now, "host": socket.gethostname()}
    )
    return now.isoformat()


def prune_task_results(keep_hours: int = 24) -> int:
    """Delete successful task results older than ``keep_hours``. The cluster runs with
    ``save_limit=0`` so pruning never happens on the monitor's hot path."""
    cutoff = timezone.now() - dt.timedelta(hours=keep_hours)
    deleted, _ = Success.objects.filter(stopped__lt=cutoff).delete()
    return deleted
