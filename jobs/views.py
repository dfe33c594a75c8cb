"""Jobs API: catalog, jobs, events, cancel/retry, download, upload tickets, the
``background/`` aliases of the first seed app, and the external-worker protocol.

Tenant routes need the ``jobs`` scope and see only their tenant's jobs (another tenant's
job id is 404). Worker routes need the ``worker`` scope; a tenant's worker key acts on
its tenant's jobs, the platform key on every tenant's.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.handlers.base import JobCanceled
from jobs.models import Artifact, Job, JobStatus
from jobs.serializers import (
    AIModelOutputSerializer,
    BackgroundGenerateInputSerializer,
    BackgroundTaskOutputSerializer,
    DownloadOutputSerializer,
    JobBatchInputSerializer,
    JobBatchOutputSerializer,
    JobCreateInputSerializer,
    JobEventOutputSerializer,
    JobListFilterSerializer,
    JobOutputSerializer,
    UploadTicketInputSerializer,
    UploadTicketOutputSerializer,
    WorkerClaimInputSerializer,
    WorkerClaimOutputSerializer,
    WorkerCompleteInputSerializer,
    WorkerFailInputSerializer,
    WorkerLeaseInputSerializer,
    WorkerLeaseOutputSerializer,
    WorkerProgressInputSerializer,
    WorkerUploadTicketInputSerializer,
)
from siganteng import storage
from siganteng.api import get_or_404, get_owned_or_404
from siganteng.errors import Conflict, ErrorSerializer, dotted_fields
from siganteng.pagination import CreatedCursorPagination
from tenants.auth import request_tenant

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` names each bad field."),
    401: OpenApiResponse(ErrorSerializer, description="Missing or invalid key."),
    403: OpenApiResponse(ErrorSerializer, description="The key lacks the scope."),
    404: OpenApiResponse(ErrorSerializer, description="Unknown job, or another tenant's."),
    409: OpenApiResponse(ErrorSerializer, description="Conflict with the job's state or idempotency key."),
}
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Same key and body → the same job; same key, other body → 409.",
)
BACKGROUND_MODEL = "text-gen-default"


def _base_url(request: Request) -> str:
    return request.build_absolute_uri("/")


def _job(request: Request, job_id) -> Job:
    return get_owned_or_404(Job.objects.select_related("model"), request_tenant(request), pk=job_id)


class ModelListView(APIView):
    required_scope = "jobs"
    pagination_class = None

    @extend_schema(operation_id="models_list", tags=["jobs"], responses={200: AIModelOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(AIModelOutputSerializer(selectors.enabled_models(), many=True).data)


class JobListCreateView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_list",
        tags=["jobs"],
        parameters=[JobListFilterSerializer],
        responses={200: JobOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = JobListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.job_list(tenant=request_tenant(request), **filters.validated_data)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(qs.prefetch_related("artifacts"), request, view=self)
        return paginator.get_paginated_response(JobOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="jobs_create",
        tags=["jobs"],
        request=JobCreateInputSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: JobOutputSerializer, **ERRORS},
        description="Submit a job; answers at once with the QUEUED job. `input_params` are merged "
        "over the model's defaults and validated against its JSON Schema.",
    )
    def post(self, request: Request) -> Response:
        data = JobCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 200:
            from siganteng.errors import field_error

            raise field_error("Idempotency-Key", "At most 200 characters.")
        job, created = services.job_submit(
            tenant=request_tenant(request),
            model_slug=v["model"],
            prompt=v["prompt"],
            input_params=v["input_params"],
            webhook_url=v["webhook_url"],
            idempotency_key=key,
            input_keys=v["input_keys"],
        )
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(JobOutputSerializer(job).data, status=status.HTTP_201_CREATED, headers=headers)


class JobBatchView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_create_batch",
        tags=["jobs"],
        request=JobBatchInputSerializer,
        responses={201: JobBatchOutputSerializer, **ERRORS},
        description="Submit up to `JOBS_BATCH_MAX` (100) jobs in one request, all or nothing: one bad "
        "item (a 400 naming `jobs[i].<field>`) or reused idempotency key (409) creates none. Each item "
        "takes the fields of a single submission plus its own optional `idempotency_key`; the answer "
        "lists the jobs in order, and `replayed` the positions a key returned again.",
    )
    def post(self, request: Request) -> Response:
        data = JobBatchInputSerializer(data=request.data)
        if not data.is_valid():
            raise ValidationError(dotted_fields(data.errors))
        submitted = services.job_submit_batch(tenant=request_tenant(request), items=data.validated_data["jobs"])
        body = {
            "jobs": [job for job, _ in submitted],
            "replayed": [i for i, (_, created) in enumerate(submitted) if not created],
        }
        return Response(JobBatchOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class JobDetailView(APIView):
    required_scope = "jobs"

    @extend_schema(operation_id="jobs_get", tags=["jobs"], responses={200: JobOutputSerializer, **ERRORS})
    def get(self, request: Request, job_id) -> Response:
        return Response(JobOutputSerializer(_job(request, job_id)).data)


class JobEventListView(APIView):
    """A job's history, answered whole (not paginated)."""

    required_scope = "jobs"
    pagination_class = None

    @extend_schema(
        operation_id="jobs_events", tags=["jobs"], responses={200: JobEventOutputSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, job_id) -> Response:
        job = _job(request, job_id)
        return Response(JobEventOutputSerializer(selectors.job_events(job=job), many=True).data)


class JobCancelView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_cancel", tags=["jobs"], request=None, responses={200: JobOutputSerializer, **ERRORS}
    )
    def post(self, request: Request, job_id) -> Response:
        job = services.job_cancel(job=_job(request, job_id))
        return Response(JobOutputSerializer(job).data)


class JobRetryView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_retry", tags=["jobs"], request=None, responses={200: JobOutputSerializer, **ERRORS}
    )
    def post(self, request: Request, job_id) -> Response:
        job = services.job_retry(job=_job(request, job_id))
        return Response(JobOutputSerializer(job).data)


class JobDownloadView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_download",
        tags=["jobs"],
        parameters=[OpenApiParameter("artifact", int, description="An output artifact id.")],
        responses={200: DownloadOutputSerializer, **ERRORS},
        description="A URL valid one hour for the job's (first) output artifact. 400 until the "
        "job SUCCEEDED, 404 if it has no output.",
    )
    def get(self, request: Request, job_id) -> Response:
        job = _job(request, job_id)
        raw = request.query_params.get("artifact")
        artifact_id = None
        if raw:
            if not raw.isdigit():
                from siganteng.errors import field_error

                raise field_error("artifact", "Must be an artifact id.")
            artifact_id = int(raw)
        out = services.job_download(job=job, base_url=_base_url(request), artifact_id=artifact_id)
        return Response(DownloadOutputSerializer(out).data)


class UploadTicketView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_upload_ticket",
        tags=["jobs"],
        request=UploadTicketInputSerializer,
        responses={201: UploadTicketOutputSerializer, **ERRORS},
        description="A presigned PUT URL and the object key to pass in a job's `input_keys`.",
    )
    def post(self, request: Request) -> Response:
        data = UploadTicketInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        ticket = services.upload_ticket_create(
            tenant=request_tenant(request),
            filename=v["filename"],
            content_type=v["content_type"],
            size_bytes=v.get("size_bytes"),
            base_url=_base_url(request),
        )
        return Response(UploadTicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


# --- background aliases ------------------------------------------------------------------

_BACKGROUND_STATUS = {
    JobStatus.QUEUED: "PENDING",
    JobStatus.RUNNING: "PENDING",
    JobStatus.SUCCEEDED: "SUCCESS",
    JobStatus.FAILED: "FAILURE",
    JobStatus.CANCELED: "FAILURE",
}


class BackgroundGenerateView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="background_generate_text",
        tags=["jobs"],
        request=BackgroundGenerateInputSerializer,
        parameters=[IDEMPOTENCY],
        responses={202: BackgroundTaskOutputSerializer, **ERRORS},
        description="Alias: submits a `text-gen-default` job; poll `background/tasks/{task_id}`.",
    )
    def post(self, request: Request) -> Response:
        data = BackgroundGenerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        prompt = v.pop("prompt")
        job, _ = services.job_submit(
            tenant=request_tenant(request),
            model_slug=BACKGROUND_MODEL,
            prompt=prompt,
            input_params=v,
            idempotency_key=request.headers.get("Idempotency-Key", "").strip()[:200],
        )
        body = {"task_id": str(job.pk), "status": "PENDING", "result": None, "error": ""}
        return Response(BackgroundTaskOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class BackgroundTaskView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="background_task_get", tags=["jobs"], responses={200: BackgroundTaskOutputSerializer, **ERRORS}
    )
    def get(self, request: Request, task_id) -> Response:
        job = _job(request, task_id)
        body = {
            "task_id": str(job.pk),
            "status": _BACKGROUND_STATUS[job.status],
            "result": job.result,
            "error": job.error,
        }
        return Response(BackgroundTaskOutputSerializer(body).data)


# --- external workers ----------------------------------------------------------------------


def _worker_job(request: Request, job_id) -> Job:
    # Not get_owned_or_404: the platform key's workers serve every tenant's jobs.
    return get_or_404(selectors.jobs_for_worker(tenant=request.user.tenant), pk=job_id)


def _lease_lost(job: Job) -> Conflict:
    return Conflict(
        "This worker no longer holds the job (lease expired, canceled or taken over).",
        code="lease_lost",
        fields={"lease_token": [f"Not the current lease; the job is {job.status}."]},
    )


class WorkerClaimView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_claim",
        tags=["workers"],
        request=WorkerClaimInputSerializer,
        responses={200: WorkerClaimOutputSerializer, 204: None, **ERRORS},
        description="Claim one QUEUED external job of the given kinds (204 when there is none). "
        "Inputs come with presigned GET URLs; keep the lease with heartbeats.",
    )
    def post(self, request: Request) -> Response:
        data = WorkerClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        claimed = services.worker_claim(
            tenant=request.user.tenant, kinds=v["kinds"], worker_id=v["worker_id"], lease_seconds=v.get("lease_seconds")
        )
        if claimed is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        job, token = claimed
        base = _base_url(request)
        inputs = [
            {
                "key": a.key,
                "url": storage.download_url(a.key, base_url=base),
                "content_type": a.content_type,
                "size": a.size,
            }
            for a in job.artifacts.filter(kind=Artifact.Kind.INPUT)
        ]
        body = {
            "job": {
                "id": job.pk,
                "tenant": job.tenant_id,
                "model": job.model.slug,
                "kind": job.model.kind,
                "prompt": job.prompt,
                "input_params": job.input_params,
                "attempt": job.attempts,
                "inputs": inputs,
            },
            "lease_token": token,
            "lease_expires_at": job.lease_expires_at,
        }
        return Response(WorkerClaimOutputSerializer(body).data)


class WorkerHeartbeatView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_heartbeat",
        tags=["workers"],
        request=WorkerLeaseInputSerializer,
        responses={200: WorkerLeaseOutputSerializer, **ERRORS},
    )
    def post(self, request: Request, job_id) -> Response:
        job = _worker_job(request, job_id)
        data = WorkerLeaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        from django.conf import settings

        try:
            until = services.job_heartbeat(
                job_id=job.pk,
                token=v["lease_token"],
                lease_seconds=v.get("lease_seconds") or settings.JOBS_WORKER_LEASE_SECONDS,
            )
        except JobCanceled:
            job.refresh_from_db()
            raise _lease_lost(job) from None
        return Response({"lease_expires_at": until, "status": JobStatus.RUNNING})


class WorkerProgressView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_progress",
        tags=["workers"],
        request=WorkerProgressInputSerializer,
        responses={200: WorkerLeaseOutputSerializer, **ERRORS},
    )
    def post(self, request: Request, job_id) -> Response:
        job = _worker_job(request, job_id)
        data = WorkerProgressInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        from django.conf import settings

        lease = v.get("lease_seconds") or settings.JOBS_WORKER_LEASE_SECONDS
        try:
            services.job_progress(
                job_id=job.pk,
                token=v["lease_token"],
                percent=v["progress_percent"],
                message=v["message"],
                lease_seconds=lease,
            )
        except JobCanceled:
            job.refresh_from_db()
            raise _lease_lost(job) from None
        job.refresh_from_db()
        return Response({"lease_expires_at": job.lease_expires_at, "status": job.status})


class WorkerUploadTicketView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_upload_ticket",
        tags=["workers"],
        request=WorkerUploadTicketInputSerializer,
        responses={201: UploadTicketOutputSerializer, **ERRORS},
    )
    def post(self, request: Request, job_id) -> Response:
        job = _worker_job(request, job_id)
        data = WorkerUploadTicketInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if job.status != JobStatus.RUNNING or job.lease_token != v["lease_token"]:
            raise _lease_lost(job)
        ticket = services.upload_ticket_create(
            tenant=job.tenant,
            filename=v["filename"],
            content_type=v["content_type"],
            size_bytes=v.get("size_bytes"),
            base_url=_base_url(request),
            job=job,
        )
        return Response(UploadTicketOutputSerializer(ticket).data, status=status.HTTP_201_CREATED)


class WorkerCompleteView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_complete",
        tags=["workers"],
        request=WorkerCompleteInputSerializer,
        responses={200: JobOutputSerializer, **ERRORS},
    )
    def post(self, request: Request, job_id) -> Response:
        job = _worker_job(request, job_id)
        data = WorkerCompleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if not services.worker_complete(job=job, token=v["lease_token"], outputs=v["outputs"], result=v["result"]):
            job.refresh_from_db()
            raise _lease_lost(job)
        job.refresh_from_db()
        return Response(JobOutputSerializer(job).data)


class WorkerFailView(APIView):
    required_scope = "worker"

    @extend_schema(
        operation_id="workers_fail",
        tags=["workers"],
        request=WorkerFailInputSerializer,
        responses={200: JobOutputSerializer, **ERRORS},
        description="Report a failure; `retryable` ones go back to the queue while attempts remain.",
    )
    def post(self, request: Request, job_id) -> Response:
        job = _worker_job(request, job_id)
        data = WorkerFailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if (
            services.job_fail(job_id=job.pk, token=v["lease_token"], error=v["error"], permanent=not v["retryable"])
            is None
        ):
            job.refresh_from_db()
            raise _lease_lost(job)
        job.refresh_from_db()
        return Response(JobOutputSerializer(job).data)
