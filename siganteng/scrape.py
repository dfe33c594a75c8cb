"""``GET /metrics``: Prometheus' scrape endpoint, behind a bearer token.

The answer adds up the counters every process wrote to ``METRICS_DIR``
(prometheus-client's multiprocess collector) and appends what the apps' collectors read
from the database at that moment (siganteng.metrics.register_collector). Without
``METRICS_TOKEN`` the endpoint does not exist (404): metrics name tenants' providers,
models and, when asked, tenants, so they are never public by accident.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from siganteng import errors, metrics


def _authorized(request: HttpRequest) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        return errors.not_found_view(request)
    if not _authorized(request):
        response = HttpResponse("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    for collector in metrics.collectors():
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
