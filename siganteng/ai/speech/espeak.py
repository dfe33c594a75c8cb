"""Offline speech with espeak-ng: robotic but free, deterministic and instant; WAV out."""

from __future__ import annotations

import shutil
import subprocess

from django.conf import settings

from siganteng.ai.speech.base import SpeechError, SpeechResult

# espeak-ng voice names for the locales we serve; others are passed through as given.
VOICES = {"en": "en-us", "id": "id", "ms": "ms"}


class EspeakSynthesizer:
    name = "espeak"
    offline = True

    def synthesize(self, text: str, *, language: str = "en", voice: str = "", speed: float = 1.0) -> SpeechResult:
        binary = shutil.which(settings.ESPEAK_BINARY)
        if binary is None:
            raise SpeechError(
                f"{settings.ESPEAK_BINARY} is not installed on this machine.", permanent=True, provider=self.name
            )
        voice = voice or VOICES.get(language[:2].lower(), language or "en")
        words_per_minute = str(max(80, min(450, int(175 * speed))))
        try:
            proc = subprocess.run(
                [binary, "-v", voice, "-s", words_per_minute, "--stdout"],
                input=text.encode(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SpeechError("espeak-ng timed out.", permanent=False, provider=self.name) from None
        if proc.returncode != 0 or not proc.stdout.startswith(b"RIFF"):
            message = proc.stderr.decode(errors="replace").strip()[:300] or f"exit status {proc.returncode}"
            raise SpeechError(f"espeak-ng failed: {message}", permanent=True, provider=self.name)
        return SpeechResult(
            audio=proc.stdout, content_type="audio/wav", extension="wav", provider=self.name, voice=voice
        )
