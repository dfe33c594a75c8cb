"""Operations that change jobs, one module a concern:

- ``state``: the one way a job changes state (a conditional update and its event);
- ``submission``: submit one job or a batch, idempotency, parameter validation;
- ``lifecycle``: claim, progress, heartbeat, succeed, fail, cancel, retry, release;
- ``fairness``: each tenant's limit of concurrent internal jobs, and waking what waits;
- ``reconcile``: recover jobs whose runner died or whose wake-up was lost;
- ``runner``: the internal runner (a django-q2 task per job);
- ``workers``: the external-worker protocol;
- ``files``: storage keys, upload tickets, input and output artifacts, downloads;
- ``webhooks``: signed completion webhooks.

The names below are the package's interface for the rest of the project.
"""

from jobs.services.fairness import jobs_wake_waiting
from jobs.services.files import artifact_store, job_download, upload_ticket_create
from jobs.services.lifecycle import (
    job_cancel,
    job_claim,
    job_fail,
    job_heartbeat,
    job_progress,
    job_release,
    job_retry,
    job_succeed,
    job_wake,
)
from jobs.services.reconcile import jobs_reconcile
from jobs.services.runner import job_run
from jobs.services.submission import job_submit, job_submit_batch, resolve_params
from jobs.services.webhooks import job_payload, webhook_deliver
from jobs.services.workers import (
    worker_claim,
    worker_complete,
    worker_fail,
    worker_heartbeat,
    worker_progress,
    worker_upload_ticket,
)

__all__ = [
    "artifact_store",
    "job_cancel",
    "job_claim",
    "job_download",
    "job_fail",
    "job_heartbeat",
    "job_payload",
    "job_progress",
    "job_release",
    "job_retry",
    "job_run",
    "job_submit",
    "job_submit_batch",
    "job_succeed",
    "job_wake",
    "jobs_reconcile",
    "jobs_wake_waiting",
    "resolve_params",
    "upload_ticket_create",
    "webhook_deliver",
    "worker_claim",
    "worker_complete",
    "worker_fail",
    "worker_heartbeat",
    "worker_progress",
    "worker_upload_ticket",
]
