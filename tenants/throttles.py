"""Per-tenant throttling at the tenant's own requests-per-minute limit.

The limit is the tenant's, shared by all its keys and every web process
(:mod:`tenants.ratelimit`). The platform key and staff sessions are not throttled. A
refused request gets 429 with ``Retry-After`` (seconds until the current window ends).
"""

from __future__ import annotations

from rest_framework.throttling import BaseThrottle

from tenants import ratelimit
from tenants.auth import Principal


class TenantKeyThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, Principal) or principal.api_key is None:
            return True
        tenant = principal.tenant
        self.decision = ratelimit.hit(tenant_id=tenant.pk, limit=tenant.rate_limit_per_minute)
        return self.decision.allowed

    def wait(self) -> float | None:
        decision = getattr(self, "decision", None)
        return decision.retry_after if decision is not None else None
