"""Inbound provider webhooks, mounted at /channels/."""

from django.urls import path

from chat.channels import views

app_name = "channels"

urlpatterns = [
    path("<slug:kind>/<str:token>/", views.inbound, name="inbound"),
]
