"""The small interfaces every provider adapter implements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

Role = Literal["system", "user", "assistant", "tool"]


class ProviderError(Exception):
    """A provider call failed. ``permanent`` says whether retrying (or falling back) can help:
    bad credentials or a malformed request are permanent; 429, 5xx and timeouts are not.

    ``kind`` says what failed: ``status`` (an HTTP error status), ``timeout``,
    ``connection``, ``malformed`` (an unreadable reply), ``config`` (missing key).
    ``attempts`` is how many requests were made before giving up; ``retry_after`` is the
    server's requested wait in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        provider: str = "",
        status: int | None = None,
        kind: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.provider = provider
        self.status = status
        self.kind = kind
        self.attempts = attempts
        self.retry_after = retry_after


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ToolCall:
    """A function call the model asked for. ``signature`` is an opaque provider token to
    send back with the call on the next turn (Gemini's thought signature, base64); keep it
    with the call when storing history."""

    id: str
    name: str
    arguments: dict[str, Any]
    signature: str = ""


@dataclass
class Attachment:
    """Binary input sent beside a message's text (an image to caption, for example).
    Adapters send it inline: a data-URI ``image_url`` part (OpenAI) or ``inline_data`` (Gemini)."""

    mime_type: str
    data: bytes


@dataclass
class ChatMessage:
    """One turn. A ``tool`` message carries a tool's result in ``content`` and answers the
    assistant's ToolCall with the same ``tool_call_id`` (``name`` is the tool's name)."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class ContextPassage:
    """A retrieved passage handed to the model (and used directly by the extractive provider)."""

    id: str
    document_id: str
    title: str
    text: str
    score: float = 0.0


@dataclass
class BusinessHours:
    """The business's opening hours as the prompt states them.

    A model reads them in the prompt's text; a provider that answers without a model (the
    offline extractive one) answers hours questions from these facts. ``weekly`` is the
    tenant's ``{"mon": [["09:00", "17:00"]], ...}``; ``next_opening`` is in local time.
    """

    weekly: dict[str, list[list[str]]]
    timezone: str
    is_open: bool
    next_opening: dt.datetime | None = None
    after_hours_message: str = ""


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class LLMRequest:
    model: str
    system: str
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float = 0.3
    max_tokens: int | None = None
    passages: list[ContextPassage] = field(default_factory=list)
    locale: str = "en"
    response_format: Literal["text", "json"] = "text"
    hours: BusinessHours | None = None


@dataclass
class LLMResponse:
    """What answered and how. ``provider``/``model`` name whoever actually answered (the
    fallback when it was used; ``fallback_from`` then names the provider that failed).
    ``label`` is a short human note the chat layer may show (the extractive provider says
    its answer is quoted, not generated); ``citations`` lists the passage ids it quoted;
    ``no_answer`` says the text only says that nothing was found."""

    text: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"
    label: str = ""
    citations: list[str] = field(default_factory=list)
    fallback_from: str | None = None
    # The provider found nothing to answer with (the extractive provider's "nothing found"):
    # fine as a reply to a customer's question, never as a message sent on staff's behalf.
    no_answer: bool = False


@dataclass
class StreamEvent:
    """``delta`` carries a piece of text; the last event is ``done`` with the whole response."""

    kind: Literal["delta", "done"]
    text: str = ""
    response: LLMResponse | None = None


def estimate_tokens(text: str) -> int:
    """A rough token count (words x 1.3) for budgets when a provider reports none."""
    words = len(text.split())
    return (words * 13 + 9) // 10


class LLMProvider(Protocol):
    name: str
    #: True for providers that answer without a network call (no retries, no cost).
    offline: bool
    #: the model used when a request names none (read from settings for remote providers)
    default_model: str

    def generate(self, request: LLMRequest) -> LLMResponse: ...

    def stream(self, request: LLMRequest) -> Iterator[StreamEvent]: ...


class Embedder(Protocol):
    name: str
    #: the model name recorded beside each stored vector
    model: str
    dimensions: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return a float32 matrix, one L2-normalised row per text."""
        ...
