"""Knowledge gaps: what customers asked that the knowledge base could not answer.

A customer's question is a gap when the answer to it used no passage of the knowledge
base (nothing was retrieved, or nothing retrieved was cited), or when the customer rated
the answer down. Questions are grouped by their analysed terms (knowledge.analysis: the
same stemmed words, stop words left out, in any order), counted, and listed newest first.
An owner marks a group resolved (typically after adding a document); a newer question
with the same terms opens it again.

There is no per-tenant score threshold: retrieval scores are not comparable across
retrievers (BM25-like, cosine, fused ranks), while "the answer quoted nothing" is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from chat.models import KnowledgeGapResolution, Message
from knowledge import analysis
from tenants.models import Tenant

MAX_TERMS = 6
SCAN_LIMIT = 2000  # answers read per page view, newest first


@dataclass
class Question:
    text: str
    conversation_id: str
    asked_at: dt.datetime
    reason: str  # "no_knowledge" or "rated_down"


@dataclass
class Gap:
    key: str
    questions: list[Question] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def last_at(self) -> dt.datetime:
        return self.questions[0].asked_at

    @property
    def example(self) -> str:
        return self.questions[0].text


def _used_no_knowledge(sources: list) -> bool:
    return not any(isinstance(s, dict) and s.get("cited") for s in sources or [])


def gap_key(text: str, language: str) -> str:
    """The group a question belongs to: its distinct analysed terms, sorted."""
    return " ".join(sorted(analysis.query_terms(text, language))[:MAX_TERMS])[:200]


def gaps(*, tenant: Tenant, days: int = 30) -> list[Gap]:
    """The tenant's open gaps of the last ``days`` days, the most recently asked first."""
    since = timezone.now() - dt.timedelta(days=days)
    answers = list(
        Message.objects.filter(tenant=tenant, role="assistant", created_at__gte=since)
        .exclude(metadata__has_key="instruction")  # staff-composed messages answer no question
        .order_by("-created_at")
        .values_list("id", "conversation_id", "created_at", "sources", "feedback__value")[:SCAN_LIMIT]
    )
    flagged = [
        (conversation_id, at, "rated_down" if rating == "down" else "no_knowledge")
        for _id, conversation_id, at, sources, rating in answers
        if rating == "down" or _used_no_knowledge(sources)
    ]
    if not flagged:
        return []
    questions = (
        Message.objects.filter(
            tenant=tenant, role="user", conversation_id__in={c for c, _, _ in flagged}, created_at__gte=since
        )
        .order_by("conversation_id", "created_at")
        .values_list("conversation_id", "created_at", "content")
    )
    by_conversation: dict = {}
    for conversation_id, at, content in questions:
        by_conversation.setdefault(conversation_id, []).append((at, content))
    language = analysis.language_for_locale(tenant.locale)
    resolved = dict(KnowledgeGapResolution.objects.filter(tenant=tenant).values_list("key", "resolved_at"))
    groups: dict[str, Gap] = {}
    for conversation_id, answered_at, reason in flagged:  # newest answer first
        asked = [(at, text) for at, text in by_conversation.get(conversation_id, []) if at <= answered_at]
        if not asked:
            continue
        asked_at, text = asked[-1]  # the question this answer replied to
        key = gap_key(text, language)
        if not key or (key in resolved and resolved[key] >= asked_at):
            continue
        groups.setdefault(key, Gap(key=key)).questions.append(
            Question(text=text, conversation_id=str(conversation_id), asked_at=asked_at, reason=reason)
        )
    return sorted(groups.values(), key=lambda g: g.last_at, reverse=True)


def gap_resolve(*, tenant: Tenant, key: str, by: str) -> KnowledgeGapResolution:
    """Mark the group ``key`` resolved now (again, if it was before)."""
    resolution, _ = KnowledgeGapResolution.objects.update_or_create(
        tenant=tenant, key=key[:200], defaults={"resolved_at": timezone.now(), "resolved_by": by[:150]}
    )
    return resolution
