"""The prompt the agent's model receives, built from named, ordered sections.

:func:`build` returns a :class:`Prompt` whose ``sections`` always come in this order
(a section with nothing to say is still present, saying so, so a reader of the prompt
knows it was considered):

1. ``persona``   — who the agent is (the tenant's persona)
2. ``sop``       — the tenant's standard operating procedures
3. ``hours``     — open or closed now in the tenant's timezone; when closed the next
   opening and the after-hours message to pass on
4. ``knowledge`` — the retrieved passages, each with its id (``[chunk id]``) to cite
5. ``channel``   — formatting rules of the channel the answer goes to
6. ``locale``    — the language to answer in
7. ``caller``    — only when the API caller sent its own system message

``messages`` holds the recent history (already trimmed to the token budget) followed by
the new user message; ``system`` is the sections rendered as Markdown headings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone

from siganteng.ai.base import BusinessHours, ChatMessage, ContextPassage
from tenants import hours as tenant_hours
from tenants.models import Tenant

SECTION_TITLES = {
    "persona": "Persona",
    "sop": "Standard operating procedures",
    "hours": "Opening hours",
    "knowledge": "Knowledge base passages",
    "channel": "Channel formatting",
    "locale": "Language",
    "caller": "Additional instructions from the caller",
}

LANGUAGES = {"id": "Indonesian (Bahasa Indonesia)", "en": "English", "ms": "Malay", "jv": "Javanese"}


@dataclass(frozen=True)
class ChannelRules:
    """How answers look on a channel: ``max_chars`` per bubble and formatting notes."""

    channel: str
    max_chars: int
    markdown: bool
    notes: str


CHANNEL_RULES: dict[str, ChannelRules] = {
    "api": ChannelRules("api", 1000, True, "Short chat bubbles. Light Markdown (bold, lists, links) is fine."),
    "openai": ChannelRules("openai", 4000, True, "Markdown is fine."),
    "webhook": ChannelRules("webhook", 1000, False, "Plain text chat bubbles; no Markdown headings or tables."),
    "telegram": ChannelRules(
        "telegram", 700, False, "Plain text chat bubbles; no Markdown headings, tables or code fences."
    ),
    "whatsapp": ChannelRules(
        "whatsapp",
        600,
        False,
        "WhatsApp formatting only: *bold*, _italic_, simple lists; no headings, tables or links in brackets.",
    ),
}


def channel_rules(channel: str) -> ChannelRules:
    """Rules for ``channel`` (the plain API's rules for an unknown channel)."""
    return CHANNEL_RULES.get(channel, CHANNEL_RULES["api"])


@dataclass
class Section:
    name: str
    text: str


@dataclass
class Prompt:
    sections: list[Section]
    messages: list[ChatMessage]
    passages: list[ContextPassage] = field(default_factory=list)
    hours: BusinessHours | None = None  # the hours section's facts, for offline providers

    @property
    def system(self) -> str:
        return "\n\n".join(f"## {SECTION_TITLES[s.name]}\n{s.text}" for s in self.sections)

    def names(self) -> list[str]:
        return [s.name for s in self.sections]

    def section(self, name: str) -> str:
        return next(s.text for s in self.sections if s.name == name)

    def as_dict(self, *, with_system: bool = True) -> dict:
        """What was sent, for the playground and ``Message.metadata`` (which leaves out the
        rendered ``system`` text: it is the sections joined, and would double the row)."""
        data = {
            "sections": [{"name": s.name, "text": s.text} for s in self.sections],
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
        }
        if with_system:
            data["system"] = self.system
        return data


def business_hours(tenant: Tenant, now: dt.datetime) -> BusinessHours | None:
    """The facts the hours section states; ``None`` when no hours are configured."""
    if not tenant.working_hours:
        return None
    is_open = tenant.is_open(now)
    opening = None if is_open else tenant.next_opening(now)
    return BusinessHours(
        weekly=tenant.working_hours,
        timezone=tenant.timezone,
        is_open=is_open,
        next_opening=opening.astimezone(ZoneInfo(tenant.timezone)) if opening else None,
        after_hours_message=tenant.after_hours_message,
    )


def hours_text(facts: BusinessHours | None, now: dt.datetime) -> str:
    """The hours section: open or closed now, the weekly hours, and when closed the next
    opening and what to tell the customer."""
    if facts is None:
        return "No opening hours are configured; do not promise when staff are available."
    local = now.astimezone(ZoneInfo(facts.timezone))
    stamp = f"{local:%A %Y-%m-%d %H:%M} ({facts.timezone})"
    weekly = "Weekly opening hours: " + "; ".join(tenant_hours.hours_to_text(facts.weekly).split("\n")) + "."
    if facts.is_open:
        return f"The business is OPEN now: it is {stamp}.\n{weekly}"
    lines = [f"The business is CLOSED now: it is {stamp}.", weekly]
    if facts.next_opening is not None:
        lines.append(f"It opens again {facts.next_opening:%A %Y-%m-%d %H:%M}.")
    if facts.after_hours_message:
        lines.append(f"Tell the customer, in your own words: {facts.after_hours_message}")
    else:
        lines.append("Say that staff will follow up when the business opens if a human is needed.")
    return "\n".join(lines)


def knowledge_text(passages: list[ContextPassage]) -> str:
    if not passages:
        return "No passages were found for this message. Say plainly when you do not know; do not invent facts."
    parts = [
        "Answer only from these passages and cite the ids you used in brackets, e.g. [id]. "
        "If they do not answer the question, say so."
    ]
    for p in passages:
        parts.append(f"[{p.id}] {p.title}\n{p.text}")
    return "\n\n".join(parts)


def build(
    *,
    tenant: Tenant,
    channel: str,
    locale: str,
    passages: list[ContextPassage],
    history: list[ChatMessage],
    user_text: str,
    caller_instructions: str = "",
    max_chars: int | None = None,
    now: dt.datetime | None = None,
) -> Prompt:
    """Assemble the prompt (see module docstring for the sections and their order)."""
    now = now or timezone.now()
    rules = channel_rules(channel)
    limit = max_chars or rules.max_chars
    lang = locale.split("-")[0].lower()
    hours = business_hours(tenant, now)
    sections = [
        Section("persona", tenant.persona.strip() or f"You are the customer assistant of {tenant.name}."),
        Section("sop", tenant.sop.strip() or "No special procedures."),
        Section("hours", hours_text(hours, now)),
        Section("knowledge", knowledge_text(passages)),
        Section(
            "channel",
            f"Channel: {rules.channel}. {rules.notes} Keep each paragraph under {limit} characters; "
            "separate chat bubbles with a blank line.",
        ),
        Section("locale", f"Answer in {LANGUAGES.get(lang, locale)} (locale {locale})."),
    ]
    if caller_instructions.strip():
        sections.append(Section("caller", caller_instructions.strip()))
    return Prompt(
        sections=sections,
        messages=[*history, ChatMessage(role="user", content=user_text)],
        passages=passages,
        hours=hours,
    )
