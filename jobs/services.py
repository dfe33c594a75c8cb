"""State changes of jobs: submit, claim, progress, complete, fail, cancel, retry,
reconcile, the external-worker protocol, upload tickets and completion webhooks.

Every transition is a conditional UPDATE on the Job row (``WHERE status = … AND
lease_token = …``) checked for one changed row, followed by a JobEvent. The lease token
fences runners: whoever claimed last is the only one whose progress and completion count,
so a duplicate wake-up or a runner that lost its lease changes nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import mimetypes
import os
import re
import socket
import uuid
from contextlib import nullcontext
from typing import Any

import jsonschema
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from rest_framework import exceptions

from jobs.handlers import HANDLERS, get_handler
from jobs.handlers.base import JobCanceled, JobContext, JobError
from jobs.models import (
    TERMINAL_STATUSES,
    AIModel,
    Artifact,
    Job,
    JobEvent,
    JobStatus,
    Runner,
    WebhookAttempt,
    WebhookDelivery,
)
from siganteng import db, storage, webhooks
from siganteng.ai.base import ProviderError
from siganteng.errors import ApiError, Conflict, dotted_fields, field_error
from siganteng.http import OutboundError, check_url, fetch
from siganteng.queue import enqueue, enqueue_many

logger = logging.getLogger(__name__)

RUN_TASK = "jobs.tasks.run_job"
WEBHOOK_TASK = "jobs.tasks.deliver_webhook"


# --- helpers -------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now()


_JOB = Job._meta.db_table
_EVENT = JobEvent._meta.db_table
_EVENT_COLUMNS = ("job_id", "kind", "status", "progress_percent", "message", "data", "created_at")
_EVENT_COLUMN_LIST = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
_INSERT_EVENT = f'INSERT INTO "{_EVENT}" ({_EVENT_COLUMN_LIST}) VALUES ({", ".join(["%s"] * len(_EVENT_COLUMNS))})'
# Casts for the columns after job_id, so PostgreSQL types INSERT … SELECT parameters as
# the columns are typed.
_EVENT_CASTS = ("varchar", "varchar", "smallint", "text", "jsonb", "timestamptz")


def _prep(model, name: str, value: Any, conn=None) -> Any:
    return model._meta.get_field(name).get_db_prep_value(value, conn or connection)


def _event_params(event: dict[str, Any], now: dt.datetime, conn=None) -> list[Any]:
    """Parameters for the event columns after ``job_id``, in ``_EVENT_COLUMNS`` order."""
    conn = conn or connections[DEFAULT_DB_ALIAS]
    return [
        str(event.get("kind", "")),
        str(event.get("status", "")),
        event.get("progress_percent"),
        (event.get("message") or "")[:2000],
        _prep(JobEvent, "data", event.get("data") or {}, conn),
        _prep(JobEvent, "created_at", now, conn),
    ]


def _event(
    job_id, kind: str, *, status: str = "", progress: int | None = None, message: str = "", data: dict | None = None
) -> None:
    """Append one event to the job's log."""
    _events([job_id], {"kind": kind, "status": status, "progress_percent": progress, "message": message, "data": data})


def _events(job_ids: list, event: dict[str, Any]) -> None:
    """The same event appended to each job's log, in one round trip (a plain INSERT: the
    log is append-only and nothing reads the new rows back)."""
    params = _event_params(event, _now())
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT_EVENT, [[_prep(Job, "id", job_id), *params] for job_id in job_ids])


def _matches(column: str) -> str:
    """``"column" = %s`` written so that no index on the column can serve it.

    Every runner statement finds its row by primary key and then checks the row's state.
    On a table whose statistics are missing or stale (a new deployment, or a burst of
    submissions since the last ANALYZE) PostgreSQL's planner rates an index on ``status``
    as cheap as the primary key and may pick it: each claim then walks every QUEUED job,
    turning a burst of n jobs into n² row visits (4.7 million for 3,000 jobs, measured).
    ``IS TRUE`` keeps the check a filter on the row the primary key found."""
    return f'("{column}" = %s) IS TRUE'


@functools.lru_cache(maxsize=64)
def _transition_sql(changes: tuple[str, ...], where: tuple[str, ...], extra_where: str, vendor: str, relaxed: bool):
    """The statements of one kind of transition (built once: building them cost the runner
    more than running them): the UPDATE (and, on PostgreSQL, the event INSERT fed by it in
    the same statement), with the fields whose values fill its parameters, in order."""
    fields = [Job._meta.get_field(name) for name in (*changes, "updated_at")]
    conds = ['"id" = %s', *(_matches(Job._meta.get_field(name).column) for name in where)]
    if extra_where:
        conds.append(f"({extra_where})")
    if relaxed:
        conds.append(db.RELAXED_COMMIT)
    sets = ", ".join(f'"{f.column}" = %s' for f in fields)
    update = f'UPDATE "{_JOB}" SET {sets} WHERE {" AND ".join(conds)}'
    if vendor == "postgresql":
        select = ", ".join(f"%s::{cast}" for cast in _EVENT_CASTS)
        update = (
            f'WITH changed AS ({update} RETURNING "id") '
            f'INSERT INTO "{_EVENT}" ({_EVENT_COLUMN_LIST}) SELECT "id", {select} FROM changed'
        )
    return update, fields, [Job._meta.get_field(name) for name in where]


def _update_with_event(
    job_id,
    *,
    changes: dict[str, Any],
    where: dict[str, Any],
    extra_where: str = "",
    extra_params: tuple = (),
    event: dict[str, Any],
    durable: bool = True,
) -> bool:
    """One atomic step, the runner's hot path: ``UPDATE`` the job row only while it still
    matches ``where`` and append ``event`` only if it did. On PostgreSQL this is a single
    prepared statement (an ``UPDATE … RETURNING`` inside a ``WITH`` feeding the
    ``INSERT``), so a transition costs one round trip and one commit instead of four or
    five ORM queries. ``durable=False`` lets a step outside any transaction commit without
    waiting for the disk (:data:`siganteng.db.RELAXED_COMMIT`). Returns whether the row
    matched."""
    conn = connections[DEFAULT_DB_ALIAS]
    now = _now()
    relaxed = not durable and db.commit_can_relax()
    sql, fields, where_fields = _transition_sql(tuple(changes), tuple(where), extra_where, conn.vendor, relaxed)
    values = [*changes.values(), now]
    params = [f.get_db_prep_value(v, conn) for f, v in zip(fields, values, strict=True)]
    pk = Job._meta.pk.get_db_prep_value(job_id, conn)
    params.append(pk)
    params.extend(f.get_db_prep_value(v, conn) for f, v in zip(where_fields, where.values(), strict=True))
    params.extend(extra_params)
    event_params = _event_params(event, now, conn)
    if conn.vendor == "postgresql":
        return db.execute(sql, [*params, *event_params]) == 1
    with transaction.atomic(), conn.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            return False
        cursor.execute(_INSERT_EVENT, [pk, *event_params])
        return True


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def job_prefix(job: Job) -> str:
    return f"{tenant_prefix(job.tenant_id)}jobs/{job.pk}/"


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip() or "file"
    base = _SAFE.sub("-", base).strip(".-") or "file"
    return base[:120]


def _enqueue_run(*job_ids) -> None:
    """Wake a runner for each job once the current transaction commits."""
    # save=False: the Job row and its events are the record; a Success row per run would
    # only cost the cluster's single monitor process an INSERT per job. Failures are kept.
    enqueue_many(RUN_TASK, [(str(job_id),) for job_id in job_ids], save=False)


def _runner_id() -> str:
    return f"cluster:{socket.gethostname()}:{os.getpid()}"


# --- parameters ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    """One compiled validator per distinct schema (building one costs more than using it)."""
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def resolve_params(*, model: AIModel, params: dict[str, Any] | None) -> dict[str, Any]:
    """The model's defaults overlaid with ``params``, validated against its JSON Schema.
    A bad parameter raises a 400 naming it (``input_params.<name>``)."""
    if params is not None and not isinstance(params, dict):
        raise field_error("input_params", "Must be an object.")
    merged = {**(model.default_params or {}), **(params or {})}
    schema = model.params_schema or {}
    if schema:
        validator = _validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(merged), key=lambda e: list(e.path))
        if errors:
            fields: dict[str, list[str]] = {}
            for err in errors:
                path = ".".join(str(p) for p in err.path)
                if not path and err.validator in ("additionalProperties", "required"):
                    # the offending name is in the message, not the path
                    found = re.findall(r"'([^']+)'", err.message)
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


def _request_hash(**parts: Any) -> str:
    raw = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_webhook_url(url: str) -> None:
    try:
        check_url(url)
    except OutboundError as exc:
        if exc.permanent:
            raise field_error("webhook_url", str(exc)) from None


def _input_artifacts(*, tenant, keys: list[str]) -> list[tuple[str, storage.Stat]]:
    prefix = f"{tenant_prefix(tenant.pk)}uploads/"
    found = []
    for key in keys:
        if not isinstance(key, str) or not key.startswith(prefix) or ".." in key:
            raise field_error("input_keys", f"{key!r} is not one of this tenant's upload keys.")
        if not storage.exists(key):
            raise field_error("input_keys", f"Nothing was uploaded at {key!r}.")
        st = storage.stat(key)
        if st.size > settings.UPLOAD_MAX_BYTES:
            raise field_error("input_keys", f"{key!r} is larger than {settings.UPLOAD_MAX_BYTES} bytes.")
        found.append((key, st))
    return found


# --- submit, cancel, retry -----------------------------------------------------------------


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


class _Planned:
    """One item of a submission, validated and ready to insert (or replayed)."""

    __slots__ = ("existing", "inputs", "job")

    def __init__(self, *, job: Job | None = None, inputs=(), existing: Job | None = None):
        self.job, self.inputs, self.existing = job, list(inputs), existing


def _submit(*, tenant, items: list[dict[str, Any]], batch: bool) -> list[tuple[Job, bool]]:
    """What ``job_submit`` and ``job_submit_batch`` share: every item validated before
    anything is written, then one transaction inserting all the jobs, their events and
    input artifacts, and the runners' wake-ups sent once it commits."""
    try:
        return _insert(tenant=tenant, planned=_plan(tenant=tenant, items=items, batch=batch))
    except IntegrityError:
        # A concurrent request with one of these idempotency keys won the race: plan
        # again, and that item replays its job.
        if not any(item.get("idempotency_key") for item in items):
            raise
        return _insert(tenant=tenant, planned=_plan(tenant=tenant, items=items, batch=batch))


def _plan(*, tenant, items: list[dict[str, Any]], batch: bool) -> list[_Planned]:
    keys = [item.get("idempotency_key") or "" for item in items]
    existing: dict[str, Job] = {}
    if any(keys):
        existing = {
            job.idempotency_key: job
            for job in Job.objects.filter(tenant=tenant, idempotency_key__in=[k for k in keys if k])
            .select_related("model")
            .prefetch_related("artifacts")
        }
    slugs = {item["model"] for key, item in zip(keys, items, strict=True) if key not in existing}
    models = {m.slug: m for m in AIModel.objects.filter(slug__in=slugs, enabled=True)} if slugs else {}
    now = _now()
    planned: list[_Planned] = []
    errors: dict[str, list[str]] = {}
    first_with_key: dict[str, int] = {}
    for i, (key, item) in enumerate(zip(keys, items, strict=True)):
        try:
            if key and key in first_with_key:
                raise field_error("idempotency_key", f"Repeats the key of jobs[{first_with_key[key]}].")
            if key:
                first_with_key[key] = i
            digest = _request_hash(
                model=item["model"],
                prompt=item.get("prompt") or "",
                params=item.get("input_params"),
                webhook_url=item.get("webhook_url") or "",
                input_keys=list(item.get("input_keys") or []),
            )
            if key in existing:
                job = existing[key]
                if job.request_hash != digest:
                    field = f"jobs[{i}].idempotency_key" if batch else "Idempotency-Key"
                    raise Conflict(
                        "This Idempotency-Key was used with a different request body.",
                        code="idempotency_key_reused",
                        fields={field: ["Reused with a different body."]},
                    )
                planned.append(_Planned(existing=job))
                continue
            planned.append(
                _plan_one(tenant=tenant, item=item, key=key, digest=digest, model=models.get(item["model"]), now=now)
            )
        except Conflict:
            raise
        except (exceptions.ValidationError, ApiError) as exc:
            if not batch:
                raise
            detail = exc.fields if isinstance(exc, ApiError) else exc.detail
            for name, messages in dotted_fields(detail, f"jobs[{i}]").items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ApiError(
            f"Invalid input: {', '.join(sorted(errors))}.", code="validation_error", status_code=400, fields=errors
        )
    return planned


def _plan_one(*, tenant, item: dict[str, Any], key: str, digest: str, model: AIModel | None, now) -> _Planned:
    slug = item["model"]
    if model is None:
        raise field_error("model", f"Unknown or disabled model {slug!r}.")
    if model.runner == Runner.INTERNAL and model.kind not in HANDLERS:
        raise field_error("model", f"Model {slug!r} has no runnable handler.")
    params = resolve_params(model=model, params=item.get("input_params"))
    webhook_url = item.get("webhook_url") or ""
    if webhook_url:
        _check_webhook_url(webhook_url)
    inputs = _input_artifacts(tenant=tenant, keys=list(item.get("input_keys") or []))
    job = Job(
        tenant=tenant,
        model=model,
        prompt=item.get("prompt") or "",
        input_params=params,
        idempotency_key=key,
        request_hash=digest,
        webhook_url=webhook_url,
        max_attempts=settings.JOBS_MAX_ATTEMPTS,
        enqueued_at=now if model.runner == Runner.INTERNAL else None,
        created_at=now,
        updated_at=now,
    )
    return _Planned(job=job, inputs=inputs)


def _insert(*, tenant, planned: list[_Planned]) -> list[tuple[Job, bool]]:
    new = [p for p in planned if p.job is not None]
    if new:
        jobs = [p.job for p in new]
        with transaction.atomic():
            if not _insert_jobs_with_events(jobs):
                Job.objects.bulk_create(jobs)
                _events(
                    [job.pk for job in jobs],
                    {"kind": JobEvent.Kind.STATUS, "status": JobStatus.QUEUED, "message": _SUBMITTED},
                )
            for p in new:
                artifacts = [
                    Artifact(
                        job=p.job,
                        tenant=tenant,
                        kind=Artifact.Kind.INPUT,
                        key=key,
                        filename=key.rsplit("/", 1)[-1],
                        content_type=mimetypes.guess_type(key)[0] or "application/octet-stream",
                        size=st.size,
                        sha256=st.sha256,
                    )
                    for key, st in p.inputs
                ]
                if artifacts:
                    Artifact.objects.bulk_create(artifacts)
                p.job.new_artifacts = artifacts
            internal = [job.pk for job in jobs if job.model.runner == Runner.INTERNAL]
            if internal:
                _enqueue_run(*internal)
    return [(p.existing, False) if p.job is None else (p.job, True) for p in planned]


_SUBMITTED = "Job submitted."
# The columns a submission sets item by item; every other column of a new job holds the
# same value across a submission (its tenant, its defaults, its time of creation).
_PER_ITEM = ("id", "model", "prompt", "input_params", "idempotency_key", "request_hash", "webhook_url", "enqueued_at")


@functools.cache
def _insert_jobs_sql() -> tuple[str, list, list]:
    """PostgreSQL: one statement inserting a submission's jobs, one array parameter per
    column in ``_PER_ITEM`` and one plain parameter for each of the others, and their
    QUEUED events from the inserted rows. Built once; the statement is prepared."""
    per_item = [Job._meta.get_field(name) for name in _PER_ITEM]
    shared = [f for f in Job._meta.concrete_fields if f.name not in _PER_ITEM]
    columns = ", ".join(f'"{f.column}"' for f in (*per_item, *shared))
    arrays = ", ".join(f"%s::{_array_type(f)}[]" for f in per_item)
    # JSON travels as text (an array of jsonb is awkward to bind) and is cast back per row.
    values = ", ".join(f'u."{f.column}"' + ("::jsonb" if _is_json(f) else "") for f in per_item)
    values += "".join(f", %s::{f.db_type(connection)}" for f in shared)
    sql = f"""
        WITH inserted AS (
            INSERT INTO "{_JOB}" ({columns})
            SELECT {values} FROM unnest({arrays}) AS u({", ".join(f'"{f.column}"' for f in per_item)})
            RETURNING "id"
        )
        INSERT INTO "{_EVENT}" ({_EVENT_COLUMN_LIST})
        SELECT "id", '{JobEvent.Kind.STATUS}', '{JobStatus.QUEUED}', NULL, '{_SUBMITTED}', '{{}}'::jsonb, %s
          FROM inserted
    """
    return sql, per_item, shared


def _is_json(field) -> bool:
    return field.get_internal_type() == "JSONField"


def _array_type(field) -> str:
    return "text" if _is_json(field) else field.db_type(connection)  # a foreign key's is its target's


def _insert_jobs_with_events(jobs: list[Job]) -> bool:
    """Insert new jobs and their QUEUED events in one round trip on PostgreSQL (a
    ``bulk_create`` spends more time preparing each field of each row than the database
    spends inserting them). False, having written nothing, where it does not apply: on
    other databases, or if the jobs differ in a column this statement takes once."""
    if connection.vendor != "postgresql":
        return False
    sql, per_item, shared = _insert_jobs_sql()
    first = jobs[0]
    for f in shared:
        value = getattr(first, f.attname)
        if any(getattr(job, f.attname) != value for job in jobs):
            return False
    arrays = []
    for f in per_item:
        if _is_json(f):
            arrays.append([json.dumps(getattr(job, f.attname), cls=f.encoder) for job in jobs])
        else:
            arrays.append([getattr(job, f.attname) for job in jobs])
    shared_values = [f.get_db_prep_save(getattr(first, f.attname), connection) for f in shared]
    params = [*shared_values, *arrays, first.created_at]  # in the statement's order
    db.execute(sql, params)
    for job in jobs:
        job._state.adding = False
        job._state.db = connection.alias
    return True


def job_cancel(*, job: Job) -> Job:
    """QUEUED or RUNNING → CANCELED. A running handler notices at its next progress step
    (its lease token no longer matches a RUNNING row) and stops without writing."""
    now = _now()
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            status=JobStatus.CANCELED,
            cancel_requested=True,
            completed_at=now,
            lease_token="",
            lease_expires_at=None,
        )
        if not changed:
            job.refresh_from_db()
            raise Conflict(
                f"A {job.status} job cannot be canceled.", code="invalid_state", fields={"status": [job.status]}
            )
        _event(job.pk, JobEvent.Kind.STATUS, status=JobStatus.CANCELED, message="Canceled on request.")
        job.refresh_from_db()
        _job_finished(job)
    return job


def job_retry(*, job: Job) -> Job:
    """FAILED or CANCELED → QUEUED with a fresh attempt budget."""
    now = _now()
    internal = job.model.runner == Runner.INTERNAL
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELED]).update(
            status=JobStatus.QUEUED,
            attempts=0,
            error="",
            result=None,
            progress_percent=0,
            cancel_requested=False,
            started_at=None,
            completed_at=None,
            available_at=None,
            enqueued_at=now if internal else None,
            lease_token="",
            lease_expires_at=None,
            worker_id="",
        )
        if not changed:
            job.refresh_from_db()
            raise Conflict(
                f"Only FAILED or CANCELED jobs can be retried; this one is {job.status}.",
                code="invalid_state",
                fields={"status": [job.status]},
            )
        _event(job.pk, JobEvent.Kind.STATUS, status=JobStatus.QUEUED, message="Retried on request.")
        if internal:
            _enqueue_run(job.pk)
    job.refresh_from_db()
    return job


# --- runner transitions (shared by the internal runner and external workers) ---------------


def _claim_update(qs, *, lease_seconds: int, worker_id: str) -> str | None:
    token = uuid.uuid4().hex
    now = _now()
    changed = qs.update(
        status=JobStatus.RUNNING,
        attempts=F("attempts") + 1,
        lease_token=token,
        lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
        started_at=now,
        worker_id=worker_id[:200],
    )
    return token if changed == 1 else None


def _claimable(now: dt.datetime):
    return Q(status=JobStatus.QUEUED) & (Q(available_at__isnull=True) | Q(available_at__lte=now))


# What the internal runner reads of a job it claims; the rest of the row stays deferred.
_CLAIM_FIELDS = ("id", "tenant", "model", "prompt", "input_params", "webhook_url", "attempts", "max_attempts", "status")
_CLAIM_SQL_TEMPLATE = f"""
    WITH claimed AS (
        UPDATE "{_JOB}" AS j
           SET "status" = '{JobStatus.RUNNING}', "attempts" = j."attempts" + 1, "lease_token" = %s,
               "lease_expires_at" = %s, "started_at" = %s, "updated_at" = %s, "worker_id" = %s
          FROM "{AIModel._meta.db_table}" AS m
         WHERE j."id" = %s AND (j."status" = '{JobStatus.QUEUED}') IS TRUE
           AND (j."available_at" IS NULL OR j."available_at" <= %s)
           AND m."id" = j."model_id" AND m."runner" = '{Runner.INTERNAL}'{{relaxed}}
     RETURNING {", ".join(f'j."{Job._meta.get_field(name).column}"' for name in _CLAIM_FIELDS)},
               m."kind" AS "model_kind"
    ), event AS (
        INSERT INTO "{_EVENT}" ({_EVENT_COLUMN_LIST})
        SELECT "id", '{JobEvent.Kind.STATUS}', '{JobStatus.RUNNING}', NULL, 'Attempt ' || "attempts" || ' started.',
               jsonb_build_object('attempt', "attempts", 'worker', %s::text), %s
          FROM claimed
    )
    SELECT * FROM claimed
"""
# The claim is the runner's to lose: should the database server crash before the claim's
# WAL reaches the disk, the job is QUEUED again as if its runner had died, and the
# reconciler wakes it. Its completion commits durably and, the WAL being flushed in order,
# makes the claim durable with it. So the claim does not wait for the disk.
_CLAIM_SQL = _CLAIM_SQL_TEMPLATE.format(relaxed="")
_CLAIM_SQL_RELAXED = _CLAIM_SQL_TEMPLATE.format(relaxed=f" AND {db.RELAXED_COMMIT}")
_CLAIM_MODEL_FIELDS = [f for f in Job._meta.concrete_fields if f.name in _CLAIM_FIELDS]  # from_db wants model order
_CLAIM_POSITIONS = [_CLAIM_FIELDS.index(f.name) for f in _CLAIM_MODEL_FIELDS]  # where each is in the returned row


def _claim_params(*, job_id, worker: str, lease_seconds: int) -> tuple[list, str]:
    """``_CLAIM_SQL``'s parameters, and the new lease token among them."""
    now = _now()
    token = uuid.uuid4().hex
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    return [token, lease_until, now, now, worker, Job._meta.pk.to_python(job_id), now, worker, now], token


def _claim_in_one_statement(*, job_id, worker_id: str, lease_seconds: int) -> tuple[Job, str] | None:
    """PostgreSQL: the claim, its RUNNING event and the job's columns (with its model's
    kind) in one prepared statement (``_matches`` says why the status check is written
    as it is). The model and tenant rows load when a handler first uses them."""
    params, token = _claim_params(job_id=job_id, worker=worker_id[:200], lease_seconds=lease_seconds)
    row = db.fetch_one(_CLAIM_SQL_RELAXED if db.commit_can_relax() else _CLAIM_SQL, params)
    if row is None:
        return None
    values = [
        f.from_db_value(row[i], None, connection) if hasattr(f, "from_db_value") else row[i]
        for f, i in zip(_CLAIM_MODEL_FIELDS, _CLAIM_POSITIONS, strict=True)
    ]
    job = Job.from_db(connection.alias, [f.attname for f in _CLAIM_MODEL_FIELDS], values)
    job.model_kind = row[len(_CLAIM_FIELDS)]
    return job, token


def job_claim(*, job_id, worker_id: str = "", lease_seconds: int | None = None) -> tuple[Job, str] | None:
    """Claim one QUEUED internal job for this process; None if it is not claimable (a
    duplicate wake-up, canceled, or waiting for its retry backoff).

    On PostgreSQL one statement (:func:`_claim_in_one_statement`). Elsewhere two steps:
    read the job, then one conditional UPDATE + RUNNING event that only matches the row
    as it was read (status QUEUED, the same attempt count). Either way two claimers never
    both win."""
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(
            job_id=job_id,
            worker_id=worker_id or _runner_id(),
            lease_seconds=lease_seconds or settings.JOBS_LEASE_SECONDS,
        )
    now = _now()
    job = Job.objects.select_related("model", "tenant").filter(pk=job_id).first()
    if (
        job is None
        or job.status != JobStatus.QUEUED
        or job.model.runner != Runner.INTERNAL
        or (job.available_at is not None and job.available_at > now)
    ):
        return None
    token = uuid.uuid4().hex
    changes = {
        "status": JobStatus.RUNNING,
        "attempts": job.attempts + 1,
        "lease_token": token,
        "lease_expires_at": now + dt.timedelta(seconds=lease_seconds or settings.JOBS_LEASE_SECONDS),
        "started_at": now,
        "worker_id": (worker_id or _runner_id())[:200],
    }
    claimed = _update_with_event(
        job.pk,
        changes=changes,
        where={"status": JobStatus.QUEUED, "attempts": job.attempts},
        extra_where='"available_at" IS NULL OR "available_at" <= %s',
        extra_params=(_prep(Job, "available_at", now),),
        event={
            "kind": JobEvent.Kind.STATUS,
            "status": JobStatus.RUNNING,
            "message": f"Attempt {changes['attempts']} started.",
            "data": {"attempt": changes["attempts"], "worker": changes["worker_id"]},
        },
    )
    if not claimed:
        return None
    for name, value in changes.items():
        setattr(job, name, value)
    return job, token


def job_progress(*, job_id, token: str, percent: int, message: str = "", lease_seconds: int | None = None) -> None:
    """Record progress and renew the lease; raises JobCanceled if the caller no longer
    holds the job (canceled, or its lease was taken back)."""
    percent = max(0, min(100, int(percent)))
    held = _update_with_event(
        job_id,
        changes={
            "progress_percent": percent,
            "lease_expires_at": _now() + dt.timedelta(seconds=lease_seconds or settings.JOBS_LEASE_SECONDS),
        },
        where={"status": JobStatus.RUNNING, "lease_token": token},
        event={"kind": JobEvent.Kind.PROGRESS, "progress_percent": percent, "message": message},
        durable=False,  # a lost report is overtaken by the next one, or by the completion
    )
    if not held:
        raise JobCanceled("The job is no longer held by this runner.")


def job_heartbeat(*, job_id, token: str, lease_seconds: int) -> dt.datetime:
    until = _now() + dt.timedelta(seconds=lease_seconds)
    changed = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, lease_token=token).update(lease_expires_at=until)
    if not changed:
        raise JobCanceled("The job is no longer held by this runner.")
    return until


def job_succeed(*, job_id, token: str, result: dict | None, webhook_url: str | None = None) -> bool:
    """RUNNING (held with ``token``) → SUCCEEDED. False if the token no longer holds it.
    ``webhook_url=""`` (the caller knows the job has none) saves re-reading the row, and
    the transition is then a single statement with no transaction around it."""
    with transaction.atomic() if webhook_url != "" else nullcontext():
        done = _update_with_event(
            job_id,
            changes={
                "status": JobStatus.SUCCEEDED,
                "result": result or {},
                "progress_percent": 100,
                "error": "",
                "completed_at": _now(),
                "lease_token": "",
                "lease_expires_at": None,
            },
            where={"status": JobStatus.RUNNING, "lease_token": token},
            event={"kind": JobEvent.Kind.STATUS, "status": JobStatus.SUCCEEDED, "message": "Job succeeded."},
        )
        if not done:
            return False
        if webhook_url != "":
            _job_finished(Job.objects.select_related("tenant", "model").get(pk=job_id))
    return True


def job_fail(*, job_id, token: str, error: str, permanent: bool) -> str | None:
    """The holder reports a failure. A transient one goes back to QUEUED with backoff while
    attempts remain; otherwise the job FAILS. Returns the new status (None: not held)."""
    error = (error or "Unknown error.")[:4000]
    with transaction.atomic():
        job = Job.objects.select_related("model").filter(pk=job_id, status=JobStatus.RUNNING, lease_token=token).first()
        if job is None:
            return None
        if not permanent and job.attempts < job.max_attempts:
            delay = settings.JOBS_RETRY_BACKOFF_SECONDS * (2 ** max(0, job.attempts - 1))
            Job.objects.filter(pk=job_id, lease_token=token).update(
                status=JobStatus.QUEUED,
                error=error,
                lease_token="",
                lease_expires_at=None,
                available_at=_now() + dt.timedelta(seconds=delay),
                enqueued_at=None,
            )
            _event(
                job_id,
                JobEvent.Kind.STATUS,
                status=JobStatus.QUEUED,
                message=f"Attempt {job.attempts} failed ({error}); retrying in {delay:g} s.",
                data={"attempt": job.attempts, "retry_in": delay},
            )
            return JobStatus.QUEUED
        Job.objects.filter(pk=job_id, lease_token=token).update(
            status=JobStatus.FAILED,
            error=error,
            completed_at=_now(),
            lease_token="",
            lease_expires_at=None,
        )
        _event(
            job_id,
            JobEvent.Kind.STATUS,
            status=JobStatus.FAILED,
            message=error,
            data={"attempt": job.attempts, "permanent": permanent},
        )
        _job_finished(Job.objects.select_related("tenant", "model").get(pk=job_id))
    return JobStatus.FAILED


def artifact_store(*, job: Job, data: bytes, filename: str, content_type: str, kind: str = "output") -> Artifact:
    """Write a handler's output to storage under the job's prefix and record it."""
    key = job_prefix(job) + safe_filename(filename)
    storage.save(key, data, content_type=content_type)
    artifact, _ = Artifact.objects.update_or_create(
        job=job,
        key=key,
        defaults={
            "tenant_id": job.tenant_id,
            "kind": kind,
            "filename": safe_filename(filename),
            "content_type": content_type,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    return artifact


def job_run(*, job_id) -> str | None:
    """The internal runner (one django-q2 task per job): claim, run the kind's handler,
    record the outcome. Returns the final status, or None for a no-op wake-up."""
    claimed = job_claim(job_id=job_id)
    if claimed is None:
        return None
    job, token = claimed

    def report(percent: int, message: str = "") -> None:
        job_progress(job_id=job.pk, token=token, percent=percent, message=message)

    def store(data: bytes, *, filename: str, content_type: str, kind: str = "output") -> Artifact:
        return artifact_store(job=job, data=data, filename=filename, content_type=content_type, kind=kind)

    ctx = JobContext(
        job_id=str(job.pk),
        tenant=SimpleLazyObject(lambda: job.tenant),  # read only by handlers that use it
        model=SimpleLazyObject(lambda: job.model),
        prompt=job.prompt,
        params=job.input_params,
        # Built and read only by handlers that use it (building the queryset alone costs
        # the runner more than its status changes do in Python).
        inputs=SimpleLazyObject(lambda: list(job.artifacts.filter(kind=Artifact.Kind.INPUT))),
        report=report,
        store=store,
    )
    try:
        handler = get_handler(getattr(job, "model_kind", None) or job.model.kind)
        result = handler(ctx)
    except JobCanceled:
        return JobStatus.CANCELED
    except JobError as exc:
        return job_fail(job_id=job.pk, token=token, error=str(exc), permanent=exc.permanent)
    except ProviderError as exc:
        return job_fail(job_id=job.pk, token=token, error=f"Provider error: {exc}", permanent=exc.permanent)
    except OutboundError as exc:
        return job_fail(job_id=job.pk, token=token, error=str(exc), permanent=exc.permanent)
    except Exception as exc:  # a bug in a handler: record it readably, do not loop on it
        logger.exception("Handler for job %s crashed", job.pk)
        return job_fail(
            job_id=job.pk, token=token, error=f"Internal error: {type(exc).__name__}: {exc}", permanent=True
        )
    if job_succeed(job_id=job.pk, token=token, result=result, webhook_url=job.webhook_url or ""):
        return JobStatus.SUCCEEDED
    return None


# --- reconciler ----------------------------------------------------------------------------


def jobs_reconcile(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Take back RUNNING jobs past their lease (→ QUEUED while attempts remain, else FAILED),
    wake QUEUED internal jobs whose wake-up was lost or whose backoff has passed, and send
    due webhook retries. Safe to run anywhere, any number of times."""
    now = now or _now()
    counts = {"requeued": 0, "failed": 0, "woken": 0, "webhooks": 0}
    expired = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).select_related("model")
    for job in expired[:limit]:
        internal = job.model.runner == Runner.INTERNAL
        with transaction.atomic():
            if job.attempts < job.max_attempts:
                changed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_token=job.lease_token).update(
                    status=JobStatus.QUEUED,
                    lease_token="",
                    lease_expires_at=None,
                    worker_id="",
                    available_at=None,
                    enqueued_at=now if internal else None,
                )
                if changed:
                    counts["requeued"] += 1
                    _event(
                        job.pk,
                        JobEvent.Kind.STATUS,
                        status=JobStatus.QUEUED,
                        message=f"Lease of attempt {job.attempts} expired; queued again.",
                        data={"attempt": job.attempts, "reason": "lease_expired"},
                    )
                    if internal:
                        _enqueue_run(job.pk)
            else:
                error = f"The runner stopped responding (lease expired) on all {job.attempts} attempts."
                changed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_token=job.lease_token).update(
                    status=JobStatus.FAILED,
                    error=error,
                    completed_at=now,
                    lease_token="",
                    lease_expires_at=None,
                )
                if changed:
                    counts["failed"] += 1
                    _event(
                        job.pk,
                        JobEvent.Kind.STATUS,
                        status=JobStatus.FAILED,
                        message=error,
                        data={"reason": "lease_expired"},
                    )
                    _job_finished(Job.objects.select_related("tenant", "model").get(pk=job.pk))

    stale = now - dt.timedelta(seconds=settings.JOBS_QUEUED_STALE_SECONDS)
    lost = (
        Job.objects.filter(_claimable(now), model__runner=Runner.INTERNAL)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
        .values_list("pk", flat=True)[:limit]
    )
    for job_id in list(lost):
        if Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(enqueued_at=now):
            counts["woken"] += 1
            _enqueue_run(job_id)

    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
    for delivery_id in list(due.values_list("pk", flat=True)[:limit]):
        counts["webhooks"] += 1
        enqueue(WEBHOOK_TASK, str(delivery_id))
    return counts


# --- external workers ----------------------------------------------------------------------


def worker_claim(
    *, tenant, kinds: list[str], worker_id: str, lease_seconds: int | None = None
) -> tuple[Job, str] | None:
    """Claim the oldest claimable external job of one of ``kinds`` (of ``tenant``, or of
    any tenant for the platform). Exclusive: on PostgreSQL the candidate row is locked
    with SKIP LOCKED so concurrent workers take different jobs; elsewhere the conditional
    update decides and a loser tries the next candidate."""
    lease_seconds = lease_seconds or settings.JOBS_WORKER_LEASE_SECONDS
    now = _now()
    base = Job.objects.filter(_claimable(now), model__runner=Runner.EXTERNAL, model__kind__in=kinds)
    if tenant is not None:
        base = base.filter(tenant=tenant)
    base = base.order_by("created_at", "pk")
    if connection.vendor == "postgresql":
        with transaction.atomic():
            job_id = base.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True).first()
            if job_id is None:
                return None
            token = _claim_update(
                Job.objects.filter(pk=job_id, status=JobStatus.QUEUED), lease_seconds=lease_seconds, worker_id=worker_id
            )
    else:
        token = None
        for job_id in base.values_list("pk", flat=True)[:20]:
            token = _claim_update(
                Job.objects.filter(pk=job_id, status=JobStatus.QUEUED), lease_seconds=lease_seconds, worker_id=worker_id
            )
            if token:
                break
    if not token:
        return None
    job = Job.objects.select_related("model", "tenant").get(pk=job_id)
    _event(
        job.pk,
        JobEvent.Kind.STATUS,
        status=JobStatus.RUNNING,
        message=f"Attempt {job.attempts} claimed by worker {worker_id}.",
        data={"attempt": job.attempts, "worker": worker_id},
    )
    return job, token


def worker_complete(*, job: Job, token: str, outputs: list[dict[str, Any]], result: dict | None) -> bool:
    """Record the outputs a worker uploaded under the job's prefix, then SUCCEED the job."""
    prefix = job_prefix(job)
    found = []
    for i, out in enumerate(outputs):
        key = out.get("key", "")
        if not key.startswith(prefix) or ".." in key:
            raise field_error(f"outputs[{i}].key", f"Must be a key under {prefix} from an upload ticket.")
        if not storage.exists(key):
            raise field_error(f"outputs[{i}].key", f"Nothing was uploaded at {key!r}.")
        found.append((out, key, storage.stat(key)))
    if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_token=token).count() != 1:
        return False
    for out, key, st in found:
        Artifact.objects.update_or_create(
            job=job,
            key=key,
            defaults={
                "tenant_id": job.tenant_id,
                "kind": out.get("kind") or Artifact.Kind.OUTPUT,
                "filename": key.rsplit("/", 1)[-1],
                "content_type": out.get("content_type") or mimetypes.guess_type(key)[0] or "application/octet-stream",
                "size": st.size,
                "sha256": st.sha256,
            },
        )
    return job_succeed(job_id=job.pk, token=token, result=result)


# --- upload tickets and downloads ------------------------------------------------------------


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
        "upload_url": up.url,
        "method": up.method,
        "headers": up.headers,
        "max_bytes": limit,
        "expires_at": _now() + dt.timedelta(seconds=expires),
    }


def job_download(*, job: Job, base_url: str | None, artifact_id: int | None = None) -> dict[str, Any]:
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
        from django.http import Http404

        raise Http404("This job has no output artifact.")
    expires = settings.SIGNED_URL_MAX_AGE
    return {
        "url": storage.download_url(artifact.key, expires=expires, base_url=base_url, filename=artifact.filename),
        "expires_at": _now() + dt.timedelta(seconds=expires),
        "artifact": artifact,
    }


# --- completion webhooks -------------------------------------------------------------------


def job_payload(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.pk),
        "status": job.status,
        "model": job.model.slug,
        "progress_percent": job.progress_percent,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
    }


def _job_finished(job: Job) -> None:
    """A job reached a final status: queue its completion webhook (after commit)."""
    if not job.webhook_url:
        return
    delivery = WebhookDelivery.objects.create(
        job=job,
        url=job.webhook_url,
        event_type=f"job.{job.status.lower()}",
        payload={"type": f"job.{job.status.lower()}", "timestamp": _now().isoformat(), "data": job_payload(job)},
        next_attempt_at=_now(),
    )
    enqueue(WEBHOOK_TASK, str(delivery.pk))


def webhook_deliver(*, delivery_id) -> str:
    """Make one delivery attempt if it is due; record it; schedule the next with
    exponential backoff on a transient failure. Returns the delivery's status."""
    now = _now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_related("job__tenant").filter(pk=delivery_id).first()
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return delivery.status if delivery else "missing"
        # Claim this attempt: push next_attempt_at out so a concurrent wake-up skips it.
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=WebhookDelivery.Status.PENDING,
            attempts=delivery.attempts,
            next_attempt_at__lte=now,
        ).update(attempts=F("attempts") + 1, next_attempt_at=now + dt.timedelta(minutes=10))
        if not claimed:
            return delivery.status
    number = delivery.attempts + 1
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = webhooks.signed_headers(delivery.job.tenant.webhook_secret, str(delivery.pk), body)
    headers["Content-Type"] = "application/json"
    status_code, error, permanent = None, "", False
    started = _now()
    try:
        result = fetch("POST", delivery.url, content=body, headers=headers, timeout=10, retries=0, max_bytes=64 * 1024)
        status_code = result.status
    except OutboundError as exc:
        status_code, error, permanent = exc.status, str(exc), exc.permanent
    elapsed = (_now() - started).total_seconds() * 1000
    WebhookAttempt.objects.create(
        delivery=delivery, number=number, status_code=status_code, error=error[:2000], duration_ms=elapsed
    )
    if not error:
        status, next_at = WebhookDelivery.Status.DELIVERED, None
    elif permanent or number >= settings.JOBS_WEBHOOK_MAX_ATTEMPTS:
        status, next_at = WebhookDelivery.Status.FAILED, None
    else:
        status = WebhookDelivery.Status.PENDING
        next_at = _now() + dt.timedelta(seconds=settings.JOBS_WEBHOOK_BACKOFF_SECONDS * (2 ** (number - 1)))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=status, next_attempt_at=next_at)
    return status


def terminal_statuses() -> tuple[str, ...]:
    return tuple(TERMINAL_STATUSES)
