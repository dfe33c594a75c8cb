"""Text-to-speech: the catalog model's TTS provider (or ``settings.TTS_PROVIDER``) → an
audio artifact."""

from __future__ import annotations

from jobs.handlers.base import JobContext, PermanentJobError, TransientJobError
from siganteng.ai.speech import SpeechError, get_tts

MAX_CHARS = 5000


def synthesize(ctx: JobContext) -> dict:
    text = ctx.prompt.strip()
    if not text:
        raise PermanentJobError("There is no text to speak (the prompt is empty).")
    if len(text) > MAX_CHARS:
        raise PermanentJobError(f"The text is longer than {MAX_CHARS} characters.")
    ctx.progress(10, "Synthesising speech.")
    try:
        tts = get_tts(ctx.model.provider or None)
        speech = tts.synthesize(
            text,
            language=str(ctx.params.get("language") or ctx.tenant.locale or "en"),
            voice=str(ctx.params.get("voice") or ""),
            speed=float(ctx.params.get("speed") or 1.0),
        )
    except SpeechError as exc:
        raise (PermanentJobError if exc.permanent else TransientJobError)(str(exc)) from None
    ctx.progress(80, "Storing audio.")
    artifact = ctx.save_output(speech.audio, filename=f"speech.{speech.extension}", content_type=speech.content_type)
    return {
        "provider": speech.provider,
        "voice": speech.voice,
        "content_type": speech.content_type,
        "bytes": len(speech.audio),
        "artifact_id": artifact.pk,
    }
