"""django-q2 entry points for channels: answer an inbound message, repair lost wake-ups.
Each takes ids and calls a service (chat/channels/services.py)."""

from __future__ import annotations

from chat.channels import services


def reply_inbound(event_id: int) -> str:
    """Wake-up for one stored inbound message; a duplicate or stale wake-up is a no-op."""
    return services.inbound_reply(event_id=event_id)


def reconcile_inbound() -> dict[str, int]:
    """Periodic: recover inbound messages whose reply was lost or interrupted."""
    return services.inbound_reconcile()
