"""A job's files: where they live in storage, upload tickets, uploaded inputs checked
before a job uses them, artifacts recorded, and download URLs.

Every object of a tenant lives under ``tenants/<tenant>/``: uploads waiting for a job
under ``uploads/``, a job's inputs and outputs under ``jobs/<job id>/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import os
import re
import uuid
from typing import Any

from django.conf import settings

from jobs.models import Artifact, Job, JobStatus
from jobs.services.state import now
from siganteng import storage
from siganteng.errors import ApiError, field_error

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def job_prefix(job: Job) -> str:
    return f"{tenant_prefix(job.tenant_id)}jobs/{job.pk}/"


def safe_filename(name: str) -> str:
    """A file name safe as the last part of a storage key (no directories, no oddities)."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "file"
    base = _SAFE.sub("-", base).strip(".-") or "file"
    return base[:120]


def uploaded_inputs(*, tenant, keys: list[str], field: str = "input_keys") -> list[tuple[str, storage.Stat]]:
    """Each key checked to be an upload of ``tenant`` that exists and fits the size limit,
    with its size and digest; a bad one is a 400 naming ``field``."""
    prefix = f"{tenant_prefix(tenant.pk)}uploads/"
    found = []
    for key in keys:
        if not isinstance(key, str) or not key.startswith(prefix) or ".." in key:
            raise field_error(field, f"{key!r} is not one of this tenant's upload keys.")
        if not storage.exists(key):
            raise field_error(field, f"Nothing was uploaded at {key!r}.")
        st = storage.stat(key)
        if st.size > settings.UPLOAD_MAX_BYTES:
            raise field_error(field, f"{key!r} is larger than {settings.UPLOAD_MAX_BYTES} bytes.")
        found.append((key, st))
    return found


def artifact_fields(
    *, job: Job, key: str, size: int, sha256: str, kind: str = Artifact.Kind.OUTPUT, content_type: str = ""
) -> dict[str, Any]:
    """An artifact's columns besides its job and key: what ``storage`` says of the object."""
    return {
        "tenant_id": job.tenant_id,
        "kind": kind,
        "filename": key.rsplit("/", 1)[-1],
        "content_type": content_type or mimetypes.guess_type(key)[0] or "application/octet-stream",
        "size": size,
        "sha256": sha256,
    }


def artifact_record(**fields: Any) -> Artifact:
    """Record (or update) the artifact stored at ``key`` for ``job`` (``artifact_fields``'s
    arguments)."""
    artifact, _ = Artifact.objects.update_or_create(
        job=fields["job"], key=fields["key"], defaults=artifact_fields(**fields)
    )
    return artifact


def artifact_store(*, job: Job, data: bytes, filename: str, content_type: str, kind: str = "output") -> Artifact:
    """Write a handler's output to storage under the job's prefix and record it."""
    key = job_prefix(job) + safe_filename(filename)
    storage.save(key, data, content_type=content_type)
    return artifact_record(
        job=job, key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(), kind=kind, content_type=content_type
    )


def upload_ticket_create(
    *, tenant, filename: str, content_type: str, size_bytes: int | None, base_url: str | None, job: Job | None = None
) -> dict[str, Any]:
    """A presigned PUT for one new object under the tenant's prefix (or, for a worker, the
    job's output prefix). Nothing is recorded until a job uses (or completes with) the key."""
    limit = settings.UPLOAD_MAX_BYTES
    if size_bytes is not None and size_bytes > limit:
        raise field_error("size_bytes", f"At most {limit} bytes.")
    name = safe_filename(filename)
    if job is not None:
        key = f"{job_prefix(job)}outputs/{uuid.uuid4().hex[:12]}-{name}"
    else:
        key = f"{tenant_prefix(tenant.pk)}uploads/{uuid.uuid4().hex}/{name}"
    expires = settings.SIGNED_URL_MAX_AGE
    up = storage.upload_url(key, content_type=content_type, max_bytes=limit, expires=expires, base_url=base_url)
    return {
        "key": key,
        "object_name": key,
        "upload_url": up.url,
        "method": up.method,
        "headers": up.headers,
        "max_bytes": limit,
        "expires_in": expires,
        "expires_at": now() + dt.timedelta(seconds=expires),
    }


def job_download(*, job: Job, base_url: str | None, artifact_id: int | None = None) -> dict[str, Any]:
    """A signed URL for the job's first output artifact (or the one named). 400 while the
    job has not SUCCEEDED; 404 when it has no such output."""
    if job.status != JobStatus.SUCCEEDED:
        raise ApiError(
            f"The job is {job.status}; its output can be downloaded once it SUCCEEDED.",
            code="not_ready",
            fields={"status": [job.status]},
        )
    outputs = job.artifacts.filter(kind=Artifact.Kind.OUTPUT)
    if artifact_id is not None:
        outputs = outputs.filter(pk=artifact_id)
    artifact = outputs.order_by("created_at", "pk").first()
    if artifact is None:
        raise ApiError("This job has no output artifact.", code="not_found", status_code=404)
    expires = settings.SIGNED_URL_MAX_AGE
    url = storage.download_url(artifact.key, expires=expires, base_url=base_url, filename=artifact.filename)
    return {
        "url": url,
        "download_url": url,
        "expires_in": expires,
        "expires_at": now() + dt.timedelta(seconds=expires),
        "artifact": artifact,
    }
