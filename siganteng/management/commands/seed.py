"""``manage.py seed``: the superuser, the demo tenant and its first key, the schedules,
one heartbeat, then each app's own seed. Running it again changes nothing."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from siganteng.queue import enqueue
from siganteng.schedules import app_submodule, ensure_schedules
from tenants.models import Tenant
from tenants.services import FIRST_KEY_SCOPES, api_key_create

DEMO_TENANT_ID = "demo"
SEED_APPS = ("knowledge", "chat", "jobs", "followups")

DEMO_PERSONA = (
    "Kamu adalah Sari, asisten customer service Toko Demo, toko online perlengkapan rumah tangga di Jakarta. "
    "Bicaralah dalam bahasa Indonesia yang ramah, sopan dan singkat; panggil pelanggan 'Kak'. "
    "Jika pelanggan menulis dalam bahasa Inggris, jawab dalam bahasa Inggris."
)
DEMO_SOP = """\
1. Jawab hanya dari basis pengetahuan toko. Jika informasinya tidak ada, katakan terus terang dan tawarkan
   untuk menghubungkan dengan tim kami.
2. Pesanan: minta nomor pesanan (format TD-123456) sebelum membahas status pengiriman.
3. Pengembalian barang: maksimal 7 hari setelah barang diterima, barang belum dipakai, kemasan lengkap.
   Jangan pernah menjanjikan refund; tim kami yang memutuskan setelah barang diperiksa.
4. Pembayaran: transfer bank, QRIS, atau COD (khusus Jabodetabek).
5. Di luar jam kerja, beri tahu bahwa tim akan membalas pada jam kerja berikutnya.
6. Jangan pernah meminta PIN, OTP atau kata sandi pelanggan.
"""
DEMO_HOURS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}


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
            self._demo_tenant()
        names = ensure_schedules()
        self.stdout.write(f"Schedules ensured: {', '.join(names)}")
        enqueue("siganteng.tasks.heartbeat")
        self.stdout.write("Enqueued one cluster heartbeat.")
        if not demo:
            # The demo tenant's key has every scope and is printed to the output (the logs).
            self.stdout.write("Demo data skipped (SEED_DEMO=false or --no-demo).")
            self.stdout.write(self.style.SUCCESS("Seed complete."))
            return
        for label in SEED_APPS:
            module = app_submodule(label, "seed")
            if module is None:
                continue
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

    @transaction.atomic
    def _demo_tenant(self) -> None:
        tenant, created = Tenant.objects.get_or_create(
            id=DEMO_TENANT_ID,
            defaults={
                "name": "Toko Demo",
                "persona": DEMO_PERSONA,
                "sop": DEMO_SOP,
                "locale": "id",
                "timezone": "Asia/Jakarta",
                "working_hours": DEMO_HOURS,
                "holidays": ["2026-12-25", "2027-01-01"],
                "after_hours_message": (
                    "Terima kasih, Kak! Saat ini kami sedang di luar jam kerja (Senin–Sabtu 09.00–17.00 WIB). "
                    "Pesan Kakak akan kami balas pada jam kerja berikutnya."
                ),
            },
        )
        self.stdout.write(f"{'Created' if created else 'Found'} demo tenant {tenant.pk!r}.")
        if tenant.api_keys.exists():
            return
        issued = api_key_create(tenant=tenant, name="demo", scopes=FIRST_KEY_SCOPES)
        self.stdout.write(self.style.WARNING(f"Demo API key (shown only now, store it): {issued.full_key}"))
