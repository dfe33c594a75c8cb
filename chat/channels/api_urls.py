"""Channel management API, mounted at /api/v1/."""

from django.urls import path

from chat.channels import api_views

urlpatterns = [
    path("channels", api_views.ChannelListCreateView.as_view(), name="channels"),
    path("channels/<uuid:channel_id>", api_views.ChannelDetailView.as_view(), name="channel-detail"),
]
