"""System checks for follow-up settings that only make sense together."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_followup_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    loop = settings.FOLLOWUP_DISPATCH_LOOP_SECONDS
    if loop < 0 or loop >= 60 or loop >= settings.Q_CLUSTER["timeout"]:
        errors.append(
            Error(
                "FOLLOWUP_DISPATCH_LOOP_SECONDS must be between 0 and 60 and below Q_TIMEOUT: the scheduled "
                "dispatcher runs every minute and must end before the next run and before its task times out.",
                id="followups.E001",
            )
        )
    if settings.FOLLOWUP_LEASE_SECONDS <= 2 * settings.CHANNEL_TIMEOUT:
        errors.append(
            Error(
                "FOLLOWUP_LEASE_SECONDS must exceed twice CHANNEL_TIMEOUT, or the reconciler could take over a "
                "delivery that is still waiting for its provider.",
                id="followups.E002",
            )
        )
    if settings.FOLLOWUP_DISPATCH_INTERVAL <= 0:
        errors.append(Error("FOLLOWUP_DISPATCH_INTERVAL must be positive.", id="followups.E003"))
    return errors
