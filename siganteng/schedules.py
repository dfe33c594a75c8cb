"""Create or update the django-q2 schedules every app declares.

Each app's ``tasks.py`` may define ``SCHEDULES = [(name, func, minutes), ...]``.
``manage.py seed`` and ``manage.py ensure_schedules`` write them; running it again
changes nothing but the function and the interval. A cluster that was down does not
replay the runs it missed: ``Q_CLUSTER["catch_up"]`` is ``False`` (django-q2 applies it
to every schedule when it computes the next run).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from django.apps import apps
from django.utils import timezone
from django.utils.module_loading import module_has_submodule
from django_q.models import Schedule

LOCAL_APPS = ("siganteng", "tenants", "knowledge", "chat", "jobs", "followups")


def app_submodule(label: str, name: str) -> ModuleType | None:
    """The installed app's ``name`` module (``tasks``, ``seed``), or None when the app is
    not installed or has none; an import error inside the module itself still raises."""
    if not apps.is_installed(label):
        return None
    package = apps.get_app_config(label).module
    if not module_has_submodule(package, name):
        return None
    return importlib.import_module(f"{package.__name__}.{name}")


def declared_schedules() -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    for label in LOCAL_APPS:
        module = app_submodule(label, "tasks")
        if module is not None:
            found.extend(getattr(module, "SCHEDULES", []))
    return found


def ensure_schedules() -> list[str]:
    """Create missing schedules (first run now) and update the function and interval of
    existing ones, keeping their next run. Returns the names, in declaration order."""
    names = []
    for name, func, minutes in declared_schedules():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
            create_defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
                "next_run": timezone.now(),
            },
        )
        names.append(name)
    return names
