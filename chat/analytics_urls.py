from django.urls import path

from chat import analytics_views

urlpatterns = [
    path("", analytics_views.analytics_page, name="analytics"),
    path("gaps/", analytics_views.gaps_page, name="analytics-gaps"),
    path("exports/", analytics_views.export_start, name="analytics-export-start"),
    path("exports/<uuid:job_id>", analytics_views.export_status, name="analytics-export"),
]
