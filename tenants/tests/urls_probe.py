"""A probe view that reports which tenant a request acts for (tests of request_tenant)."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from siganteng.urls import handler404, handler500  # noqa: F401
from siganteng.urls import urlpatterns as project_urls
from tenants.auth import request_tenant


class Probe(APIView):
    required_scope = "chat"

    def get(self, request):
        return Response({"tenant": request_tenant(request).pk, "platform": request.user.is_platform})


urlpatterns = [path("probe", Probe.as_view()), *project_urls]
