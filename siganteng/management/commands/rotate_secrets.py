"""``manage.py rotate_secrets``: re-encrypt every stored secret under the newest key.

Run after putting a new key first in SECRETS_ENCRYPTION_KEYS (keep the old ones behind
it until this has run everywhere); then the old keys can be dropped. Idempotent.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from siganteng import crypto

ENCRYPTED = (crypto.EncryptedTextField, crypto.EncryptedJSONField)


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field under the newest SECRETS_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f.name for f in model._meta.concrete_fields if isinstance(f, ENCRYPTED)]
            if not fields:
                continue
            count = 0
            for row in model._base_manager.values("pk", *fields).iterator():
                with transaction.atomic():
                    # Reading decrypted with any key; writing encrypts with the newest.
                    model._base_manager.filter(pk=row["pk"]).update(**{name: row[name] for name in fields})
                count += 1
            self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted ({', '.join(fields)})")
            total += count
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} row(s)."))
