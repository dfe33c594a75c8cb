"""Seed for the chat app: the demo tenant's shipping-quote tool, served by this app itself
at ``/api/v1/demo/shipping-quote`` (``make run`` sets OUTBOUND_ALLOW_PRIVATE=true so the
tool runner may call 127.0.0.1). Idempotent: an existing tool keeps its secret."""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from chat.models import Tool
from chat.signals import tools_changed
from siganteng import webhooks
from tenants.models import Tenant
from tenants.seed import DEMO_TENANT_ID

DEMO_TOOL = {
    "name": "shipping_quote",
    "description": "Quote the shipping price (IDR) and delivery time to an Indonesian city for a parcel weight.",
    "parameters": {
        "type": "object",
        "properties": {
            "destination_city": {"type": "string", "description": "City name, e.g. Bandung"},
            "weight_kg": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
            "service": {"type": "string", "enum": ["regular", "express"], "default": "regular"},
        },
        "required": ["destination_city", "weight_kg"],
        "additionalProperties": False,
    },
}


def run(stdout: TextIO | None = None) -> None:
    tenant = Tenant.objects.filter(pk=DEMO_TENANT_ID).first()
    if tenant is None:
        if stdout:
            stdout.write("chat: no 'demo' tenant yet; shipping-quote tool not registered\n")
        return
    url = f"{settings.PUBLIC_BASE_URL}/api/v1/demo/shipping-quote"
    tool, created = Tool.objects.get_or_create(
        tenant=tenant,
        name=DEMO_TOOL["name"],
        defaults={**DEMO_TOOL, "url": url, "signing_secret": webhooks.new_secret()},
    )
    if not created and (tool.url != url or tool.parameters != DEMO_TOOL["parameters"]):
        Tool.objects.filter(pk=tool.pk).update(
            url=url, parameters=DEMO_TOOL["parameters"], description=DEMO_TOOL["description"]
        )
        tools_changed(tenant.pk)
    if stdout:
        stdout.write(f"chat: demo tool shipping_quote {'registered' if created else 'up to date'} -> {url}\n")
