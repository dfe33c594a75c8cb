from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    default = True
    name = "tenants"
    verbose_name = _("Tenants")

    def ready(self) -> None:
        from tenants import schema  # noqa: F401  (registers the OpenAPI auth schemes)


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the back-office's site (tenants.sites.BackOfficeSite)."""

    default = False  # tenants.apps names TenantsConfig for "tenants"
    default_site = "tenants.sites.BackOfficeSite"
