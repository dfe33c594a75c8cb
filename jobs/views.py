"""Jobs API for tenants: catalog, jobs, events, cancel/retry, download, upload tickets
and the ``background/`` aliases of the first seed app. (The external-worker protocol is
in ``jobs.worker_views``.)

Every route needs the ``jobs`` scope and sees only its tenant's jobs (another tenant's
job id is 404).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.models import Job, JobStatus
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
)
from siganteng.api import get_owned_or_404
from siganteng.errors import ErrorSerializer, dotted_fields, field_error
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


def base_url(request: Request) -> str:
    """Where presigned local-storage URLs point: this server, as the client reached it."""
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
    required_scope = "jobs"

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
        description="A URL valid one hour (`expires_in` seconds) for the job's (first) output artifact. "
        "400 until the job SUCCEEDED, 404 if it has no output.",
    )
    def get(self, request: Request, job_id) -> Response:
        job = _job(request, job_id)
        raw = request.query_params.get("artifact")
        artifact_id = None
        if raw:
            if not raw.isdigit():
                raise field_error("artifact", "Must be an artifact id.")
            artifact_id = int(raw)
        out = services.job_download(job=job, base_url=base_url(request), artifact_id=artifact_id)
        return Response(DownloadOutputSerializer(out).data)


class UploadTicketView(APIView):
    required_scope = "jobs"

    @extend_schema(
        operation_id="jobs_upload_ticket",
        tags=["jobs"],
        request=UploadTicketInputSerializer,
        responses={201: UploadTicketOutputSerializer, **ERRORS},
        description="A presigned PUT URL and the object's key (`object_name`) to pass in a job's "
        "`input_keys` or as `input_params.image_path`.",
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
            base_url=base_url(request),
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
