"""Channel secrets and tool signing secrets encrypted at rest (siganteng/crypto.py).

Three steps per column: widen it to plain text, encrypt every existing value in place,
then declare the encrypted field (same column type: no schema change). Reversible."""

import siganteng.crypto
from django.db import migrations, models

COLUMNS = (("Channel", "secrets"), ("Tool", "signing_secret"))


def _convert(apps, transform) -> None:
    for model_name, field in COLUMNS:
        model = apps.get_model("chat", model_name)
        for pk, value in model.objects.values_list("pk", field).iterator():
            if value:
                model.objects.filter(pk=pk).update(**{field: transform(value)})


def encrypt(apps, schema_editor) -> None:
    _convert(apps, siganteng.crypto.encrypt)


def decrypt(apps, schema_editor) -> None:
    _convert(apps, siganteng.crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="secrets",
            field=models.TextField(blank=True, default="{}"),
        ),
        migrations.AlterField(
            model_name="tool",
            name="signing_secret",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="channel",
            name="secrets",
            field=siganteng.crypto.EncryptedJSONField(
                blank=True,
                default=dict,
                help_text="Tokens and signing secrets, encrypted at rest; never returned by the API.",
            ),
        ),
        migrations.AlterField(
            model_name="tool",
            name="signing_secret",
            field=siganteng.crypto.EncryptedTextField(blank=True, help_text="Encrypted at rest."),
        ),
    ]
