"""Per-key throttling at the tenant's own requests-per-minute limit.

The platform key and staff sessions are not throttled. A refused request gets 429 with
``Retry-After`` (seconds until the oldest request in the window expires).
"""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from tenants.auth import Principal


class TenantKeyThrottle(SimpleRateThrottle):
    scope = "tenant_key"

    def get_rate(self) -> str | None:
        return None  # decided per request in allow_request

    def get_cache_key(self, request, view) -> str | None:
        principal = request.user
        if not isinstance(principal, Principal) or principal.api_key is None:
            return None
        return f"throttle:key:{principal.api_key.pk}"

    def allow_request(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal) or principal.api_key is None:
            return True
        self.num_requests = principal.tenant.rate_limit_per_minute
        self.duration = 60
        self.key = self.get_cache_key(request, view)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()
