"""Answer feedback: a customer rates one of the agent's answers up or down.

Every road in (the API, Telegram's and WhatsApp's buttons, the playground) ends in
:func:`feedback_record`, so a rating is stored, counted in ``/metrics`` and shown in the
back-office the same way whichever channel it came from.
"""

from __future__ import annotations

from chat.models import Feedback, Message
from siganteng import metrics
from siganteng.errors import field_error
from tenants.models import Tenant

COMMENT_MAX = 2000


def feedback_record(*, tenant: Tenant, message: Message, value: str, comment: str = "", source: str) -> Feedback:
    """Store ``value`` (``up``/``down``) for ``message``, replacing an earlier rating of
    it. ``message`` must be the tenant's and an answer of the agent (400 naming
    ``message`` otherwise); a bad value or an over-long comment is a 400 naming the field."""
    if message.tenant_id != tenant.pk:
        raise field_error("message", "No such message.")
    if message.role != "assistant":
        raise field_error("message", "Only the agent's answers can be rated.")
    if value not in Feedback.Value.values:
        raise field_error("value", f"Must be one of: {', '.join(Feedback.Value.values)}.")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise field_error("comment", f"At most {COMMENT_MAX} characters.")
    feedback, _ = Feedback.objects.update_or_create(
        message=message, defaults={"tenant": tenant, "value": value, "comment": comment, "source": source}
    )
    metrics.feedback(channel=source, value=value, tenant_id=tenant.pk)
    return feedback
