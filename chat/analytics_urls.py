from django.urls import path

from chat import analytics_views

urlpatterns = [
    path("", analytics_views.analytics_page, name="analytics"),
    path("gaps/", analytics_views.gaps_page, name="analytics-gaps"),
]
