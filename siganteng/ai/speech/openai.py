"""Provider speech: OpenAI's ``audio/speech`` (or a compatible server) via the openai SDK."""

from __future__ import annotations

import openai
from django.conf import settings

from siganteng.ai.speech.base import SpeechError, SpeechResult

FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "flac": "audio/flac"}


class OpenAISynthesizer:
    name = "openai"
    offline = False

    def __init__(self) -> None:
        if not settings.OPENAI_API_KEY:
            raise SpeechError("OPENAI_API_KEY is not set.", permanent=True, provider=self.name)
        self.client = openai.OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            timeout=settings.LLM_TIMEOUT,
            max_retries=settings.LLM_MAX_RETRIES,
        )

    def synthesize(self, text: str, *, language: str = "en", voice: str = "", speed: float = 1.0) -> SpeechResult:
        voice = voice or "alloy"
        try:
            resp = self.client.audio.speech.create(
                model=settings.OPENAI_TTS_MODEL, voice=voice, input=text, response_format="wav", speed=speed
            )
            audio = resp.read()
        except openai.APIStatusError as exc:
            transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            raise SpeechError(
                f"OpenAI speech failed ({exc.status_code}): {exc.message}", permanent=not transient, provider=self.name
            ) from None
        except openai.APIError as exc:  # connection errors and timeouts
            raise SpeechError(f"OpenAI speech failed: {exc}", permanent=False, provider=self.name) from None
        return SpeechResult(audio=audio, content_type=FORMATS["wav"], extension="wav", provider=self.name, voice=voice)
