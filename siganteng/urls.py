from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from siganteng import errors, health, scrape

admin.site.site_header = "SIGANTENG back-office"
admin.site.site_title = "SIGANTENG"
admin.site.index_title = "Tenants, agents, knowledge, jobs and follow-ups"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", scrape.metrics_view, name="metrics"),
    # Back-office pages of the apps' own, under the admin's prefix (before its catch-all).
    path("admin/analytics/", include("chat.analytics_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("knowledge.urls")),
    path("api/v1/", include("chat.urls")),
    path("api/v1/", include("chat.channels.api_urls")),
    path("api/v1/", include("jobs.urls")),
    path("api/v1/", include("followups.urls")),
    path("v1/", include("chat.openai_urls")),
    path("channels/", include("chat.channels.urls")),
    path("files/", include("siganteng.files_urls")),
    path("playground/", include("chat.playground_urls")),
    path("api-auth/", include("rest_framework.urls")),
    # Unknown API routes answer in the error shape whatever DEBUG is.
    re_path(r"^(api|v1)/", errors.not_found_view),
]

handler400 = "siganteng.errors.bad_request_view"
handler403 = "siganteng.errors.permission_denied_view"
handler404 = "siganteng.errors.not_found_view"
handler500 = "siganteng.errors.server_error_view"
