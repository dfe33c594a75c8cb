"""The interface a text-to-speech adapter implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SpeechError(Exception):
    """Synthesis failed; ``permanent`` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool, provider: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.provider = provider


@dataclass
class SpeechResult:
    audio: bytes
    content_type: str
    extension: str
    provider: str
    voice: str


class SpeechSynthesizer(Protocol):
    name: str
    offline: bool

    def synthesize(self, text: str, *, language: str = "en", voice: str = "", speed: float = 1.0) -> SpeechResult: ...
