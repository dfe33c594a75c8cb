from __future__ import annotations

import pytest


@pytest.fixture
def catalog(db):
    from jobs.seed import load_catalog

    load_catalog()


@pytest.fixture
def local_files(settings, tmp_path):
    """Local file storage in a fresh directory (the embedded default)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def submit(catalog):
    """``submit(client, model, prompt, **fields)`` → the response of POST /api/v1/jobs/."""

    def _submit(client, model="echo", prompt="hello", headers=None, **fields):
        body = {"model": model, "prompt": prompt, **fields}
        return client.post("/api/v1/jobs/", body, format="json", **(headers or {}))

    return _submit


@pytest.fixture
def run_job():
    """Run a job's internal handler in this process, as the task would."""
    from jobs import services

    def _run(job_id):
        return services.job_run(job_id=job_id)

    return _run
