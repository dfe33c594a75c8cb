"""Load the model catalog (jobs/fixtures/ai_models.json). Idempotent: existing models
get the fixture's parameters and schema; the enabled flag staff set is kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from django.db import transaction

from jobs.models import AIModel

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ai_models.json"


def load_catalog(path: Path = FIXTURE) -> tuple[int, int]:
    entries = json.loads(path.read_text())
    created = updated = 0
    with transaction.atomic():
        for entry in entries:
            entry = dict(entry)
            slug = entry.pop("slug")
            model, was_created = AIModel.objects.get_or_create(slug=slug, defaults=entry)
            if was_created:
                created += 1
                continue
            changed = [k for k, v in entry.items() if getattr(model, k) != v]
            if changed:
                for k in changed:
                    setattr(model, k, entry[k])
                model.save(update_fields=[*changed, "updated_at"])
                updated += 1
    return created, updated


def run(stdout: TextIO | None = None) -> None:
    stdout = stdout or sys.stdout
    created, updated = load_catalog()
    stdout.write(f"jobs: model catalog loaded ({created} created, {updated} updated)\n")
