"""Keep the tenant's ``tools_version`` moving with its tools, so every process's tool
cache (chat.selectors.enabled_tools) notices a change on its next request."""

from __future__ import annotations

import secrets

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chat.models import Tool
from tenants.models import Tenant


def tools_changed(tenant_id: str) -> None:
    """Move the tenant's tools version; call after any write to its tools that bypasses
    ``save()``/``delete()`` (a queryset ``update``)."""
    Tenant.objects.filter(pk=tenant_id).update(tools_version=secrets.randbits(62))


@receiver(post_save, sender=Tool, dispatch_uid="chat.tool_saved")
@receiver(post_delete, sender=Tool, dispatch_uid="chat.tool_deleted")
def _tool_changed(sender, instance: Tool, **kwargs) -> None:
    tools_changed(instance.tenant_id)
