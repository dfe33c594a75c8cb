"""Export a tenant's conversations and messages as a background job.

The ``conversation-export`` model (jobs/fixtures/ai_models.json) runs
:func:`export_conversations` on the task cluster: the conversations created in a date
range (UTC days, both ends included; optionally one channel) and all their messages, one
row a message, as CSV or JSON lines. The file is the job's output artifact, so the job
API's progress and its expiring signed download link serve it like any other output.

The handler lives here rather than in jobs/handlers because it reads chat's rows and
``jobs`` may not import ``chat``; ``ChatConfig.ready`` registers it with jobs' registry.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from chat.models import Conversation, Message
from jobs.handlers.base import JobContext, PermanentJobError

KIND = "conversation-export"
COLUMNS = (
    "conversation_id",
    "channel",
    "customer",
    "message_id",
    "created_at",
    "role",
    "content",
    "tokens_in",
    "tokens_out",
    "cost",
    "rating",
    "rating_comment",
)
BATCH = 200  # conversations per progress report


def _day(params: dict, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(params.get(name, "")))
    except ValueError:
        raise PermanentJobError(f"input_params.{name}: a date like 2026-12-01.") from None


def _row(message: Message, conversation: Conversation) -> dict:
    feedback = getattr(message, "feedback", None)
    return {
        "conversation_id": str(conversation.pk),
        "channel": conversation.channel,
        "customer": conversation.user_id,
        "message_id": str(message.pk),
        "created_at": message.created_at.isoformat(),
        "role": message.role,
        "content": message.content,
        "tokens_in": message.tokens_in,
        "tokens_out": message.tokens_out,
        "cost": str(message.cost),
        "rating": feedback.value if feedback else "",
        "rating_comment": feedback.comment if feedback else "",
    }


def export_conversations(ctx: JobContext) -> dict:
    """Write the export; returns ``{"conversations", "messages", "format", "start", "end"}``."""
    start, end = _day(ctx.params, "start"), _day(ctx.params, "end")
    if end < start:
        raise PermanentJobError("input_params.end: before start.")
    fmt = ctx.params.get("format") or "csv"
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    conversations = Conversation.objects.filter(tenant=ctx.tenant, created_at__gte=lo, created_at__lt=hi)
    if ctx.params.get("channel"):
        conversations = conversations.filter(channel=ctx.params["channel"])
    ids = list(conversations.order_by("created_at", "pk").values_list("pk", flat=True))

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    count = 0
    for offset in range(0, len(ids), BATCH):
        batch = {c.pk: c for c in Conversation.objects.filter(pk__in=ids[offset : offset + BATCH])}
        messages = (
            Message.objects.filter(tenant=ctx.tenant, conversation_id__in=batch)
            .select_related("feedback")
            .order_by("conversation_id", "created_at", "pk")
        )
        for message in messages.iterator(chunk_size=1000):
            row = _row(message, batch[message.conversation_id])
            if writer is not None:
                writer.writerow(row)
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        ctx.progress(min(99, int(100 * (offset + BATCH) / max(1, len(ids)))), f"{count} messages")
    extension, content_type = ("csv", "text/csv") if fmt == "csv" else ("jsonl", "application/x-ndjson")
    ctx.save_output(
        out.getvalue().encode(), filename=f"conversations-{start}-{end}.{extension}", content_type=content_type
    )
    return {"conversations": len(ids), "messages": count, "format": fmt, "start": str(start), "end": str(end)}
