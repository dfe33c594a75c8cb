"""Follow-up API, mounted at /api/v1/."""

from django.urls import path

from followups import views

urlpatterns = [
    path("followup/schedule", views.ScheduleView.as_view(), name="followup-schedule"),
    path("followup/pending", views.PendingView.as_view(), name="followup-pending"),
    path("followups", views.ListView.as_view(), name="followups"),
    path("followups/<uuid:followup_id>", views.DetailView.as_view(), name="followup-detail"),
    path("followups/<uuid:followup_id>/cancel", views.CancelView.as_view(), name="followup-cancel"),
]
