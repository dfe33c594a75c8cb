"""Tenant webhook secrets encrypted at rest (siganteng/crypto.py): widen the column to
text, encrypt each value in place, then declare the encrypted field. Reversible."""

import siganteng.crypto
import siganteng.webhooks
from django.db import migrations, models


def _convert(apps, transform) -> None:
    Tenant = apps.get_model("tenants", "Tenant")
    for pk, value in Tenant.objects.values_list("pk", "webhook_secret").iterator():
        if value:
            Tenant.objects.filter(pk=pk).update(webhook_secret=transform(value))


def encrypt(apps, schema_editor) -> None:
    _convert(apps, siganteng.crypto.encrypt)


def decrypt(apps, schema_editor) -> None:
    _convert(apps, siganteng.crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_staff_profile_and_invitations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tenant",
            name="webhook_secret",
            field=models.TextField(default=siganteng.webhooks.new_secret),
        ),
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="tenant",
            name="webhook_secret",
            field=siganteng.crypto.EncryptedTextField(
                default=siganteng.webhooks.new_secret,
                help_text="Signs outbound webhooks (Standard Webhooks); encrypted at rest.",
            ),
        ),
    ]
