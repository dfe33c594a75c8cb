"""Submitting jobs, one or a batch: every item validated before anything is written, then
one transaction inserting the jobs, their QUEUED events and input artifacts, and the
internal runners' wake-ups sent once it commits. Idempotency keys replay a job."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects

from jobs.handlers import HANDLERS
from jobs.models import AIModel, Artifact, Job, JobEvent, JobStatus, Runner
from jobs.services.fairness import wake_budget
from jobs.services.files import artifact_fields, uploaded_inputs
from jobs.services.state import enqueue_run, now
from jobs.services.webhooks import webhook_url_check
from siganteng.errors import ApiError, Conflict, InvalidInput, dotted_fields, field_error

IMAGE_PATH = "image_path"
"""An ``input_params`` entry naming an upload as the job's input image (seed 004's
contract): recorded as an input artifact like an ``input_keys`` entry."""


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    """One compiled validator per distinct schema."""
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def resolve_params(*, model: AIModel, params: dict[str, Any] | None) -> dict[str, Any]:
    """The model's defaults overlaid with ``params``, validated against its JSON Schema.
    A bad parameter raises a 400 naming it (``input_params.<name>``)."""
    if params is not None and not isinstance(params, dict):
        raise field_error("input_params", "Must be an object.")
    merged = {**(model.default_params or {}), **(params or {})}
    schema = model.params_schema or {}
    if not schema:
        return merged
    errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(merged), key=lambda e: list(e.path))
    if errors:
        fields: dict[str, list[str]] = {}
        for err in errors:
            path = ".".join(str(p) for p in err.path)
            if not path and err.validator in ("additionalProperties", "required"):
                found = re.findall(r"'([^']+)'", err.message)  # the offending name is in the message
                path = found[0] if found else ""
            name = f"input_params.{path}" if path else "input_params"
            fields.setdefault(name, []).append(err.message)
        raise ApiError(
            f"Invalid input_params: {', '.join(sorted(fields))}.",
            code="validation_error",
            status_code=400,
            fields=fields,
        )
    return merged


def job_submit(
    *,
    tenant,
    model_slug: str,
    prompt: str = "",
    input_params: dict[str, Any] | None = None,
    webhook_url: str = "",
    idempotency_key: str = "",
    input_keys: list[str] | None = None,
) -> tuple[Job, bool]:
    """Create a QUEUED job (and its input artifacts) and wake a runner after commit.

    Returns ``(job, created)``. With an ``idempotency_key`` the same key and body return
    the existing job (``created`` False); the same key with another body is a 409."""
    item = {
        "model": model_slug,
        "prompt": prompt,
        "input_params": input_params,
        "webhook_url": webhook_url,
        "idempotency_key": idempotency_key,
        "input_keys": input_keys,
    }
    return _submit(tenant=tenant, items=[item], batch=False)[0]


def job_submit_batch(*, tenant, items: list[dict[str, Any]]) -> list[tuple[Job, bool]]:
    """Submit several jobs at once, all or nothing: one item's bad input (a 400 naming
    ``jobs[i].<field>``) or reused idempotency key (409) creates none of them. Each item
    takes ``job_submit``'s arguments (``model`` for ``model_slug``) and its own optional
    ``idempotency_key``. Returns ``(job, created)`` per item, in order."""
    return _submit(tenant=tenant, items=items, batch=True)


@dataclass
class _Planned:
    """One item of a submission: a new job with its inputs, or the job its key replays."""

    job: Job
    created: bool
    inputs: list = field(default_factory=list)


def _submit(*, tenant, items: list[dict[str, Any]], batch: bool) -> list[tuple[Job, bool]]:
    try:
        return _insert(planned=_plan(tenant=tenant, items=items, batch=batch))
    except IntegrityError:
        # A concurrent request with one of these idempotency keys won the race: plan
        # again, and that item replays its job.
        if not any(item.get("idempotency_key") for item in items):
            raise
        return _insert(planned=_plan(tenant=tenant, items=items, batch=batch))


def _request_hash(item: dict[str, Any]) -> str:
    parts = {
        "model": item["model"],
        "prompt": item.get("prompt") or "",
        "params": item.get("input_params"),
        "webhook_url": item.get("webhook_url") or "",
        "input_keys": list(item.get("input_keys") or []),
    }
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _plan(*, tenant, items: list[dict[str, Any]], batch: bool) -> list[_Planned]:
    """Every item checked (and its replay found) before anything is written. In a batch the
    errors of all items are gathered, each field named ``jobs[i].<field>``."""
    keys = [item.get("idempotency_key") or "" for item in items]
    existing = {
        job.idempotency_key: job
        for job in Job.objects.filter(tenant=tenant, idempotency_key__in=[k for k in keys if k])
        .select_related("model")
        .prefetch_related("artifacts")
    }
    slugs = {item["model"] for key, item in zip(keys, items, strict=True) if key not in existing}
    models = {m.slug: m for m in AIModel.objects.filter(slug__in=slugs, enabled=True)}
    planned: list[_Planned] = []
    errors: dict[str, list[str]] = {}
    first_with_key: dict[str, int] = {}
    for i, (key, item) in enumerate(zip(keys, items, strict=True)):
        try:
            if key in first_with_key:
                raise field_error("idempotency_key", f"Repeats the key of jobs[{first_with_key[key]}].")
            if key:
                first_with_key[key] = i
            digest = _request_hash(item)
            if key in existing:
                if existing[key].request_hash != digest:
                    raise Conflict(
                        "This Idempotency-Key was used with a different request body.",
                        code="idempotency_key_reused",
                        fields={
                            f"jobs[{i}].idempotency_key" if batch else "Idempotency-Key": [
                                "Reused with a different body."
                            ]
                        },
                    )
                planned.append(_Planned(job=existing[key], created=False))
                continue
            planned.append(_plan_one(tenant=tenant, item=item, key=key, digest=digest, model=models.get(item["model"])))
        except Conflict:
            raise
        except ApiError as exc:
            if not batch:
                raise
            for name, messages in dotted_fields(exc.fields, f"jobs[{i}]").items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise InvalidInput(fields=errors)
    return planned


def _plan_one(*, tenant, item: dict[str, Any], key: str, digest: str, model: AIModel | None) -> _Planned:
    slug = item["model"]
    if model is None:
        raise field_error("model", f"Unknown or disabled model {slug!r}.")
    if model.runner == Runner.INTERNAL and model.kind not in HANDLERS:
        raise field_error("model", f"Model {slug!r} has no runnable handler.")
    params = resolve_params(model=model, params=item.get("input_params"))
    webhook_url = item.get("webhook_url") or ""
    if webhook_url:
        webhook_url_check(webhook_url)
    inputs = uploaded_inputs(tenant=tenant, keys=list(item.get("input_keys") or []))
    image_path = (item.get("input_params") or {}).get(IMAGE_PATH)
    if image_path is not None:
        known = {k for k, _ in inputs}
        found = uploaded_inputs(tenant=tenant, keys=[image_path], field=f"input_params.{IMAGE_PATH}")
        inputs += [(k, st) for k, st in found if k not in known]
    job = Job(
        tenant=tenant,
        model=model,
        prompt=item.get("prompt") or "",
        input_params=params,
        idempotency_key=key,
        request_hash=digest,
        webhook_url=webhook_url,
        max_attempts=settings.JOBS_MAX_ATTEMPTS,
    )
    return _Planned(job=job, created=True, inputs=inputs)


def _insert(*, planned: list[_Planned]) -> list[tuple[Job, bool]]:
    """The new jobs, their QUEUED events and input artifacts in one transaction; the
    internal ones' wake-ups (within the tenant's limit) once it commits."""
    new = [p for p in planned if p.created]
    if new:
        jobs = [p.job for p in new]
        internal = [job for job in jobs if job.model.runner == Runner.INTERNAL]
        with transaction.atomic():
            # Wake-ups only for as many as the tenant's limit leaves room for; the rest wait
            # without one and are woken as its jobs end (jobs.services.fairness).
            woken = internal[: wake_budget(internal[0].tenant)] if internal else []
            for job in woken:
                job.enqueued_at = now()
            Job.objects.bulk_create(jobs)
            JobEvent.objects.bulk_create(
                JobEvent(job=job, kind=JobEvent.Kind.STATUS, status=JobStatus.QUEUED, message="Job submitted.")
                for job in jobs
            )
            Artifact.objects.bulk_create(
                Artifact(
                    job=p.job,
                    key=key,
                    **artifact_fields(job=p.job, key=key, size=st.size, sha256=st.sha256, kind=Artifact.Kind.INPUT),
                )
                for p in new
                for key, st in p.inputs
            )
            enqueue_run(*[job.pk for job in woken])
        prefetch_related_objects(jobs, "artifacts")
    return [(p.job, p.created) for p in planned]
