"""Tenant HTTP tools the model may call through function calling.

A call is ``POST <tool.url>`` with the JSON body ``{"tool": name, "arguments": {...},
"tenant": id, "conversation_id": id}`` signed with Standard Webhooks headers keyed by
the tool's signing secret (when it has one), sent through :func:`siganteng.http.fetch`
(timeout, size cap, the private-address guard). Arguments are validated against the
tool's JSON Schema first. Whatever goes wrong — invalid arguments, an unknown tool, a
timeout, a 500, a refused address — comes back as a JSON tool result
``{"error": "..."}`` for the model to read and recover from; it never fails the reply.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import jsonschema

from chat.models import Tool
from siganteng import webhooks
from siganteng.ai.base import ToolCall, ToolSpec
from siganteng.http import OutboundError, fetch

#: Tool results longer than this are cut before they go back to the model.
MAX_RESULT_CHARS = 4000
MAX_RESPONSE_BYTES = 256 * 1024


@dataclass
class ToolOutcome:
    call: ToolCall
    result: str
    ok: bool
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.call.id,
            "name": self.call.name,
            "arguments": self.call.arguments,
            "ok": self.ok,
            "result": self.result[:500],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def spec(tool: Tool) -> ToolSpec:
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters or {"type": "object"})


def check_schema(schema: Any) -> None:
    """Raise ``jsonschema.SchemaError`` unless ``schema`` is a JSON Schema for an object."""
    if not isinstance(schema, dict):
        raise jsonschema.SchemaError("must be a JSON object")
    jsonschema.validators.validator_for(schema).check_schema(schema)
    if schema.get("type", "object") != "object":
        raise jsonschema.SchemaError("the top-level type must be 'object' (function arguments)")


def _error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)


def call(tool: Tool | None, tool_call: ToolCall, *, tenant_id: str, conversation_id: str) -> ToolOutcome:
    """Run one tool call and return its result text (JSON) for the model."""
    if tool is None:
        return ToolOutcome(tool_call, _error(f"Unknown tool {tool_call.name!r}."), ok=False)
    schema = tool.parameters or {"type": "object"}
    try:
        jsonschema.validate(tool_call.arguments, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
        return ToolOutcome(tool_call, _error(f"Invalid arguments at {where}: {exc.message}"), ok=False)
    body = json.dumps(
        {"tool": tool.name, "arguments": tool_call.arguments, "tenant": tenant_id, "conversation_id": conversation_id},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    headers = {"Content-Type": "application/json"}
    if tool.signing_secret:
        headers.update(webhooks.signed_headers(tool.signing_secret, f"msg_{uuid.uuid4().hex}", body))
    try:
        result = fetch(
            "POST",
            tool.url,
            content=body,
            headers=headers,
            timeout=tool.timeout_seconds,
            max_bytes=MAX_RESPONSE_BYTES,
            retries=0,
            raise_for_status=True,
        )
    except OutboundError as exc:
        return ToolOutcome(tool_call, _error(f"The tool failed: {exc}"), ok=False)
    text = result.text.strip() or "{}"
    return ToolOutcome(tool_call, text[:MAX_RESULT_CHARS], ok=True, elapsed_ms=result.elapsed_ms)
