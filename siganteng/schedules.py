"""Create or update the django-q2 schedules every app declares.

Each app's ``tasks.py`` may define ``SCHEDULES = [(name, func, minutes), ...]``.
``manage.py seed`` and ``manage.py ensure_schedules`` write them; running it again
changes nothing but the function and the interval. A cluster that was down does not
replay the runs it missed: ``Q_CLUSTER["catch_up"]`` is ``False`` (django-q2 applies it
to every schedule when it computes the next run).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import module_has_submodule
from django_q.models import Schedule


def declared_schedules() -> list[tuple[str, str, int]]:
    """Every ``SCHEDULES`` entry of the project's own installed apps (the packages at
    the top of ``BASE_DIR``), in ``INSTALLED_APPS`` order.

    Discovered the way the admin discovers ``admin.py`` modules, so this project
    package names no app: it sits below all of them (docs/architecture/layers.md)."""
    found: list[tuple[str, str, int]] = []
    base = Path(settings.BASE_DIR).resolve()
    for config in apps.get_app_configs():
        if Path(config.path).resolve().parent != base:
            continue  # third-party apps declare no schedules of ours
        if module_has_submodule(config.module, "tasks"):
            module = importlib.import_module(f"{config.name}.tasks")
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
