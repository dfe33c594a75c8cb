"""Seed for tenants: the demo tenant (Toko Demo, Jakarta) and its first API key, printed
once. Idempotent: the tenant is found by id and a key is issued only when it has none."""

from __future__ import annotations

from typing import TextIO

from django.db import transaction

from tenants.models import Tenant
from tenants.services import FIRST_KEY_SCOPES, api_key_create

DEMO_TENANT_ID = "demo"

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


@transaction.atomic
def run(stdout: TextIO) -> None:
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
    stdout.write(f"{'Created' if created else 'Found'} demo tenant {tenant.pk!r}.\n")
    if tenant.api_keys.exists():
        return
    issued = api_key_create(tenant=tenant, name="demo", scopes=FIRST_KEY_SCOPES)
    stdout.write(f"Demo API key (shown only now, store it): {issued.full_key}\n")
