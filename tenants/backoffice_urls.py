"""Back-office pages of tenant staff, under /admin/staff/ (before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path

from tenants import backoffice_views

urlpatterns = [
    path("tenant/", admin.site.admin_view(backoffice_views.switch_tenant), name="backoffice-switch-tenant"),
    path("language/", admin.site.admin_view(backoffice_views.set_language), name="backoffice-set-language"),
    path("invitation/<str:token>/", backoffice_views.accept_invitation, name="backoffice-accept-invitation"),
]
