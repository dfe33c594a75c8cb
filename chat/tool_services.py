"""Tool registration: create, change and delete a tenant's HTTP tools (the calls the
model may make during a turn are run by :mod:`chat.tools`)."""

from __future__ import annotations

from typing import Any

import jsonschema
from django.db import IntegrityError, transaction

from chat import tools
from chat.models import Tool
from siganteng.errors import Conflict, field_error
from tenants.models import Tenant

TOOL_FIELDS = ("name", "description", "parameters", "url", "signing_secret", "timeout_seconds", "enabled")


def _check_tool_fields(fields: dict[str, Any]) -> None:
    if "parameters" in fields:
        try:
            tools.check_schema(fields["parameters"])
        except jsonschema.SchemaError as exc:
            raise field_error("parameters", f"Not a valid JSON Schema: {exc.message}") from None


def tool_create(
    *,
    tenant: Tenant,
    name: str,
    description: str,
    url: str,
    parameters: dict | None = None,
    signing_secret: str = "",
    timeout_seconds: float = 10.0,
    enabled: bool = True,
) -> Tool:
    """Register an HTTP tool. Names are unique per tenant (409 otherwise)."""
    parameters = parameters if parameters is not None else {"type": "object", "properties": {}}
    _check_tool_fields({"parameters": parameters})
    try:
        with transaction.atomic():
            return Tool.objects.create(
                tenant=tenant,
                name=name,
                description=description,
                url=url,
                parameters=parameters,
                signing_secret=signing_secret,
                timeout_seconds=timeout_seconds,
                enabled=enabled,
            )
    except IntegrityError:
        raise Conflict(f"A tool named {name!r} already exists.", fields={"name": ["Already exists."]}) from None


def tool_update(*, tool: Tool, **fields: Any) -> Tool:
    """Change the given fields of ``tool`` (names as in :data:`TOOL_FIELDS`)."""
    unknown = set(fields) - set(TOOL_FIELDS)
    if unknown:
        raise ValueError(f"unknown tool fields: {unknown}")
    _check_tool_fields(fields)
    for key, value in fields.items():
        setattr(tool, key, value)
    try:
        with transaction.atomic():
            tool.save()
    except IntegrityError:
        raise Conflict("A tool with this name already exists.", fields={"name": ["Already exists."]}) from None
    return tool


def tool_delete(*, tool: Tool) -> None:
    tool.delete()
