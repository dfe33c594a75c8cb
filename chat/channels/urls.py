"""Inbound provider webhooks, mounted at /channels/."""

from django.urls import path

from chat.channels import webhook_views

app_name = "channels"

urlpatterns = [
    path("<slug:kind>/<str:token>/", webhook_views.inbound, name="inbound"),
]
