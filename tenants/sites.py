"""The back-office's admin site: Tenants first in the index, then the apps by name."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

FIRST = ("tenants",)


class BackOfficeSite(admin.AdminSite):
    site_header = _("SIGANTENG back-office")
    site_title = "SIGANTENG"
    index_title = _("Tenants, agents, knowledge, jobs and follow-ups")

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        return sorted(apps, key=lambda app: (app["app_label"] not in FIRST, str(app["name"]).lower()))
