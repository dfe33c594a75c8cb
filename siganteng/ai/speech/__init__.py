"""Text-to-speech adapters, chosen through one registry.

``get_tts(name)`` returns a :class:`~siganteng.ai.speech.base.SpeechSynthesizer`;
``espeak`` runs espeak-ng locally (offline, WAV), ``openai`` calls the OpenAI (or any
compatible) ``audio/speech`` endpoint through the openai SDK.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from siganteng.ai.speech.base import SpeechError, SpeechResult, SpeechSynthesizer

__all__ = ["SpeechError", "SpeechResult", "SpeechSynthesizer", "get_tts", "TTS_PROVIDERS"]

TTS_PROVIDERS: dict[str, str] = {
    "espeak": "siganteng.ai.speech.espeak.EspeakSynthesizer",
    "openai": "siganteng.ai.speech.openai.OpenAISynthesizer",
}

_instances: dict[str, Any] = {}
_lock = threading.Lock()


def get_tts(name: str | None = None) -> SpeechSynthesizer:
    name = name or settings.TTS_PROVIDER
    if name not in TTS_PROVIDERS:
        raise KeyError(f"Unknown TTS provider {name!r}; known: {', '.join(TTS_PROVIDERS)}")
    with _lock:
        if name not in _instances:
            _instances[name] = import_string(TTS_PROVIDERS[name])()
        return _instances[name]


def reset() -> None:
    with _lock:
        _instances.clear()
