"""``manage.py seed``: the superuser, the schedules, one heartbeat, then each app's demo
data in layer order (tenants first: the others seed the demo tenant). Running it again
changes nothing.

It lives in the follow-ups app because that is the top layer, the one app allowed to
import every other (see docs/architecture/layers.md); each app keeps its own seed in
its ``seed.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chat import seed as chat_seed
from followups import seed as followups_seed
from jobs import seed as jobs_seed
from knowledge import seed as knowledge_seed
from siganteng.queue import enqueue
from siganteng.schedules import ensure_schedules
from tenants import seed as tenants_seed

# (label, module with run(stdout)), in the order they depend on each other.
SEEDS = (
    ("knowledge", knowledge_seed),
    ("chat", chat_seed),
    ("jobs", jobs_seed),
    ("followups", followups_seed),
)


class Command(BaseCommand):
    help = "Create the superuser, the demo tenant (with a key), the schedules and each app's demo data."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-demo",
            action="store_true",
            help="Skip the demo tenant, its key and the apps' demo data (also: SEED_DEMO=false).",
        )

    def handle(self, *args, **options):
        self._superuser()
        demo = settings.SEED_DEMO and not options["no_demo"]
        if demo:
            tenants_seed.run(stdout=self.stdout)
        names = ensure_schedules()
        self.stdout.write(f"Schedules ensured: {', '.join(names)}")
        enqueue("siganteng.tasks.heartbeat")
        self.stdout.write("Enqueued one cluster heartbeat.")
        if not demo:
            # The demo tenant's key has every scope and is printed to the output (the logs).
            self.stdout.write("Demo data skipped (SEED_DEMO=false or --no-demo).")
            self.stdout.write(self.style.SUCCESS("Seed complete."))
            return
        for label, module in SEEDS:
            self.stdout.write(f"Seeding {label}…")
            module.run(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Seed complete."))

    def _superuser(self) -> None:
        username = settings.FIRST_SUPERUSER_USERNAME
        password = settings.FIRST_SUPERUSER_PASSWORD
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Superuser {username!r} exists.")
            return
        if not password:
            self.stdout.write(
                f"No superuser created: set FIRST_SUPERUSER_PASSWORD (and optionally FIRST_SUPERUSER_USERNAME, "
                f"now {username!r}) and run seed again, or run `manage.py createsuperuser`."
            )
            return
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(f"Created superuser {username!r}.")
