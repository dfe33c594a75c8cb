"""The signed-in staff member's chosen language, over the browser's.

Runs after authentication: LocaleMiddleware has already activated the language from the
cookie or the browser's Accept-Language; a stored preference (tenants.StaffProfile)
replaces it for this request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from tenants.models import StaffProfile


class StaffLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        # Only the back-office's pages: API clients authenticate per request, not by session.
        if user is not None and request.path.startswith("/admin/") and user.is_authenticated:
            language = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first()
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
