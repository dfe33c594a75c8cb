"""Create or update the django-q2 schedules every app declares.

Each app's ``tasks.py`` may define ``SCHEDULES = [(name, func, minutes), ...]``. They are
written with ``catch_up=False`` (a cluster that was down does not replay missed runs)
by ``manage.py seed`` and ``manage.py ensure_schedules``; running it again changes nothing.
"""

from __future__ import annotations

import importlib

from django.apps import apps
from django.utils import timezone
from django_q.models import Schedule

LOCAL_APPS = ("siganteng", "tenants", "knowledge", "chat", "jobs", "followups")


def declared_schedules() -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    for label in LOCAL_APPS:
        if not apps.is_installed(label):
            continue
        try:
            module = importlib.import_module(f"{label}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{label}.tasks":
                raise
            continue
        found.extend(getattr(module, "SCHEDULES", []))
    return found


def ensure_schedules() -> list[str]:
    names = []
    for name, func, minutes in declared_schedules():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "catch_up": False,
                "next_run": timezone.now(),
            },
        )
        names.append(name)
    return names
