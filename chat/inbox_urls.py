"""The back-office inbox (``/admin/inbox/``), behind the admin's own login."""

from django.contrib import admin
from django.urls import path

from chat import inbox

urlpatterns = [
    path("", admin.site.admin_view(inbox.inbox), name="inbox"),
    path("data", admin.site.admin_view(inbox.inbox_data), name="inbox-data"),
    path("<uuid:conversation_id>/", admin.site.admin_view(inbox.conversation_page), name="inbox-conversation"),
    path("<uuid:conversation_id>/data", admin.site.admin_view(inbox.conversation_data), name="inbox-conversation-data"),
    path("<uuid:conversation_id>/act", admin.site.admin_view(inbox.conversation_action), name="inbox-action"),
]
