"""Image captioning through a vision-capable LLM provider (the image is an input artifact)."""

from __future__ import annotations

from jobs.handlers import _llm
from jobs.handlers.base import JobContext, PermanentJobError
from siganteng import storage
from siganteng.ai.base import Attachment, ChatMessage, LLMRequest

MAX_IMAGE_BYTES = 10 * 1024 * 1024
SYSTEM = "Describe the image in one or two plain sentences for someone who cannot see it."


def caption(ctx: JobContext) -> dict:
    images = [a for a in ctx.inputs if (a.content_type or "").startswith("image/")]
    if not images:
        raise PermanentJobError(
            "Image captioning needs an image: upload one with an upload ticket and pass its key in input_keys."
        )
    if _llm.is_offline(ctx):
        raise PermanentJobError(
            "Image captioning needs a vision-capable provider (OpenAI or Gemini); this "
            "tenant's provider answers offline and cannot see images."
        )
    image = images[0]
    ctx.progress(10, "Reading the image.")
    data = storage.open_bytes(image.key, max_bytes=MAX_IMAGE_BYTES)
    prompt = ctx.prompt.strip() or "What is in this image?"
    language = str(ctx.params.get("language") or ctx.tenant.locale or "en")
    resp = _llm.call(
        ctx,
        LLMRequest(
            model=_llm.model_name(ctx),
            system=SYSTEM + f" Answer in the language with code {language!r}.",
            messages=[
                ChatMessage(
                    role="user", content=prompt, attachments=[Attachment(mime_type=image.content_type, data=data)]
                )
            ],
            temperature=0.2,
            max_tokens=ctx.params.get("max_tokens") or 200,
            locale=language,
        ),
    )
    ctx.progress(90, "Captioned.")
    return {
        "caption": resp.text.strip(),
        "provider": resp.provider,
        "model": resp.model,
        "usage": _llm.usage(resp),
        "image_key": image.key,
    }
