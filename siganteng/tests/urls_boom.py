"""The project's routes plus two that fail, for the 500 tests."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from siganteng.urls import handler400, handler403, handler404, handler500  # noqa: F401
from siganteng.urls import urlpatterns as project_urls


class Boom(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internal detail /etc/passwd")


def plain_boom(request):
    raise RuntimeError("secret internal detail in a plain view")


urlpatterns = [path("boom/api", Boom.as_view()), path("boom/plain", plain_boom), *project_urls]
