"""django-q2 schedules of the chat app. The task functions live beside their code
(``chat/channels/tasks.py`` for the channels); this module is where the schedule
registry (``siganteng.schedules``) looks for the app's ``SCHEDULES``."""

from __future__ import annotations

SCHEDULES = [
    # (name, dotted function, minutes between runs)
    ("channels-inbound-reconcile", "chat.channels.tasks.reconcile_inbound", 1),
]
