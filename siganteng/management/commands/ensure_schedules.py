"""Create or update every app's django-q2 schedules (idempotent, catch_up=False)."""

from django.core.management.base import BaseCommand

from siganteng.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create or update the periodic task schedules every app declares in tasks.SCHEDULES."

    def handle(self, *args, **options):
        names = ensure_schedules()
        self.stdout.write(f"Schedules ensured: {', '.join(names) or '(none declared)'}")
