"""The external-worker protocol's routes (see ``jobs.services.workers``).

Every route needs the ``worker`` scope; a tenant's worker key acts on its tenant's jobs,
the platform's key on every tenant's.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.models import Job
from jobs.serializers import (
    JobOutputSerializer,
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
from jobs.views import ERRORS, base_url
from siganteng.api import get_or_404


def _worker_job(request: Request, job_id) -> Job:
    # Not get_owned_or_404: the platform key's workers serve every tenant's jobs.
    return get_or_404(selectors.jobs_for_worker(tenant=request.user.tenant), pk=job_id)


def _valid(serializer_class, request: Request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


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
        v = _valid(WorkerClaimInputSerializer, request)
        claimed = services.worker_claim(
            tenant=request.user.tenant,
            kinds=v["kinds"],
            worker_id=v["worker_id"],
            lease_seconds=v.get("lease_seconds"),
            base_url=base_url(request),
        )
        if claimed is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(WorkerClaimOutputSerializer(claimed).data)


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
        v = _valid(WorkerLeaseInputSerializer, request)
        lease = services.worker_heartbeat(job=job, token=v["lease_token"], lease_seconds=v.get("lease_seconds"))
        return Response(WorkerLeaseOutputSerializer(lease).data)


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
        v = _valid(WorkerProgressInputSerializer, request)
        lease = services.worker_progress(
            job=job,
            token=v["lease_token"],
            percent=v["progress_percent"],
            message=v["message"],
            lease_seconds=v.get("lease_seconds"),
        )
        return Response(WorkerLeaseOutputSerializer(lease).data)


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
        v = _valid(WorkerUploadTicketInputSerializer, request)
        ticket = services.worker_upload_ticket(
            job=job,
            token=v["lease_token"],
            filename=v["filename"],
            content_type=v["content_type"],
            size_bytes=v.get("size_bytes"),
            base_url=base_url(request),
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
        v = _valid(WorkerCompleteInputSerializer, request)
        job = services.worker_complete(job=job, token=v["lease_token"], outputs=v["outputs"], result=v["result"])
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
        v = _valid(WorkerFailInputSerializer, request)
        job = services.worker_fail(job=job, token=v["lease_token"], error=v["error"], retryable=v["retryable"])
        return Response(JobOutputSerializer(job).data)
