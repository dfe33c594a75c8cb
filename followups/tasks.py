"""django-q2 entry points for follow-ups: each takes ids and calls a service."""

from __future__ import annotations

from django.conf import settings

from followups import services
from siganteng import metrics, shutdown

SCHEDULES = [
    # (name, dotted function, minutes between runs) — a minute is django-q2's finest grain;
    # FOLLOWUP_DISPATCH_LOOP_SECONDS keeps the dispatcher polling inside that minute.
    ("followups-dispatch", "followups.tasks.dispatch", 1),
    ("followups-reconcile", "followups.tasks.reconcile", 1),
]


def dispatch(loop_seconds: float | None = None) -> int:
    loop = settings.FOLLOWUP_DISPATCH_LOOP_SECONDS if loop_seconds is None else loop_seconds
    return services.followups_dispatch(loop_seconds=loop, interval=settings.FOLLOWUP_DISPATCH_INTERVAL)


def deliver(followup_id: str, token: str) -> str:
    """Send one claimed follow-up. One taken after the cluster was told to stop goes
    back to SCHEDULED unsent, for any dispatcher to claim again (``released``)."""
    if shutdown.stopping():
        released = services.followup_release(followup_id=followup_id, token=token)
        outcome = "released" if released else "stale"
    else:
        outcome = services.followup_deliver(followup_id=followup_id, token=token)
    metrics.followup_delivery(outcome=outcome)
    return outcome


def reconcile() -> dict[str, int]:
    """Every minute (and every RECONCILE_INTERVAL seconds from the dedicated dispatcher)."""
    counts = services.followups_reconcile()
    metrics.reconciled(reconciler="followups", counts=counts)
    return counts
