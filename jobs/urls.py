from django.urls import include, path

from jobs import views

urlpatterns = [
    path("models", views.ModelListView.as_view(), name="models-list"),
    path("jobs/", views.JobListCreateView.as_view(), name="jobs-list"),
    path("jobs/batch", views.JobBatchView.as_view(), name="jobs-batch"),
    path("jobs/upload-ticket", views.UploadTicketView.as_view(), name="jobs-upload-ticket"),
    path("jobs/<uuid:job_id>", views.JobDetailView.as_view(), name="jobs-detail"),
    path("jobs/<uuid:job_id>/events", views.JobEventListView.as_view(), name="jobs-events"),
    path("jobs/<uuid:job_id>/cancel", views.JobCancelView.as_view(), name="jobs-cancel"),
    path("jobs/<uuid:job_id>/retry", views.JobRetryView.as_view(), name="jobs-retry"),
    path("jobs/<uuid:job_id>/download", views.JobDownloadView.as_view(), name="jobs-download"),
    path("background/generate_text", views.BackgroundGenerateView.as_view(), name="background-generate"),
    path("background/tasks/<uuid:task_id>", views.BackgroundTaskView.as_view(), name="background-task"),
    path("", include("jobs.worker_urls")),
]
