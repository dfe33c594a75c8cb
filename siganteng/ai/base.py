"""The small interfaces every provider adapter implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

Role = Literal["system", "user", "assistant", "tool"]


class ProviderError(Exception):
    """A provider call failed. ``permanent`` says whether retrying (or falling back) can help:
    bad credentials or a malformed request are permanent; 429, 5xx and timeouts are not."""

    def __init__(self, message: str, *, permanent: bool, provider: str = "", status: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.provider = provider
        self.status = status


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


@dataclass
class ContextPassage:
    """A retrieved passage handed to the model (and used directly by the extractive provider)."""

    id: str
    document_id: str
    title: str
    text: str
    score: float = 0.0


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


@dataclass
class LLMResponse:
    text: str
    provider: str
    model: str
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"


@dataclass
class StreamEvent:
    """``delta`` carries a piece of text; the last event is ``done`` with the whole response."""

    kind: Literal["delta", "done"]
    text: str = ""
    response: LLMResponse | None = None


class LLMProvider(Protocol):
    name: str
    #: True for providers that answer without a network call (no retries, no cost).
    offline: bool

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
