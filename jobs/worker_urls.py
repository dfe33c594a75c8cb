"""Routes of the external-worker protocol (included by ``jobs.urls``)."""

from django.urls import path

from jobs import worker_views as views

urlpatterns = [
    path("workers/claim", views.WorkerClaimView.as_view(), name="workers-claim"),
    path("workers/jobs/<uuid:job_id>/heartbeat", views.WorkerHeartbeatView.as_view(), name="workers-heartbeat"),
    path("workers/jobs/<uuid:job_id>/progress", views.WorkerProgressView.as_view(), name="workers-progress"),
    path(
        "workers/jobs/<uuid:job_id>/upload-ticket", views.WorkerUploadTicketView.as_view(), name="workers-upload-ticket"
    ),
    path("workers/jobs/<uuid:job_id>/complete", views.WorkerCompleteView.as_view(), name="workers-complete"),
    path("workers/jobs/<uuid:job_id>/fail", views.WorkerFailView.as_view(), name="workers-fail"),
]
