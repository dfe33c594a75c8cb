"""The one place a provider name becomes an implementation.

Each registry maps a name to a dotted path; the names also feed model and serializer
choices. Instances are created once per process.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from siganteng.ai.base import Embedder, LLMProvider

LLM_PROVIDERS: dict[str, str] = {
    "extractive": "siganteng.ai.providers.extractive.ExtractiveProvider",
    "openai": "siganteng.ai.providers.openai.OpenAIProvider",
    "gemini": "siganteng.ai.providers.gemini.GeminiProvider",
}

EMBEDDERS: dict[str, str] = {
    "none": "siganteng.ai.embeddings.none.NoEmbedder",
    "local": "siganteng.ai.embeddings.local.LocalEmbedder",
    "openai": "siganteng.ai.embeddings.openai.OpenAIEmbedder",
    "gemini": "siganteng.ai.embeddings.gemini.GeminiEmbedder",
}

_instances: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def llm_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in LLM_PROVIDERS]


def embedder_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in EMBEDDERS]


def _instance(kind: str, registry: dict[str, str], name: str) -> Any:
    key = (kind, name)
    inst = _instances.get(key)
    if inst is None:
        if name not in registry:
            raise KeyError(f"Unknown {kind} {name!r}; known: {', '.join(registry)}")
        with _lock:
            inst = _instances.get(key)
            if inst is None:
                inst = import_string(registry[name])()
                _instances[key] = inst
    return inst


def get_llm(name: str) -> LLMProvider:
    return _instance("LLM provider", LLM_PROVIDERS, name)


def get_embedder(name: str | None = None) -> Embedder | None:
    """The configured embedder (``settings.EMBEDDER``), or ``None`` for lexical-only."""
    name = name or settings.EMBEDDER
    if name == "none":
        return None
    return _instance("embedder", EMBEDDERS, name)


def reset() -> None:
    """Forget cached instances (tests change provider settings between cases)."""
    with _lock:
        _instances.clear()
