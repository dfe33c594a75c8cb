"""The one registry from a model kind to its handler.

The keys also feed the catalog's kind choices; each handler lives in its own module and
is imported when first used. ``external`` kinds have no handler here: they run on a
worker fleet (jobs.worker) and only need a catalog row with ``runner=external``.
"""

from __future__ import annotations

import functools

from django.utils.module_loading import import_string

from jobs.handlers.base import Handler

HANDLERS: dict[str, str] = {
    "text-generation": "jobs.handlers.text.generate_text",
    "summarization": "jobs.handlers.text.summarize",
    "sentiment": "jobs.handlers.sentiment.analyze",
    "tts": "jobs.handlers.tts.synthesize",
    "image-caption": "jobs.handlers.caption.caption",
    "echo": "jobs.handlers.echo.echo",
}

#: kinds run by external workers (no in-process handler)
EXTERNAL_KINDS = ("image-to-3d", "text-to-3d", "text-to-image")


def register(kind: str, dotted_path: str) -> None:
    """Add a handler that lives in an app to the right of ``jobs`` (which may not be
    imported from here): that app calls this from its ``AppConfig.ready``."""
    HANDLERS.setdefault(kind, dotted_path)


def kind_choices() -> list[tuple[str, str]]:
    return [(k, k) for k in (*HANDLERS, *EXTERNAL_KINDS)]


@functools.cache
def get_handler(kind: str) -> Handler:
    """The kind's handler, imported on first use (resolved once per process: the lookup
    cost more than the ``echo`` handler itself)."""
    try:
        return import_string(HANDLERS[kind])
    except KeyError:
        raise KeyError(f"No internal handler for kind {kind!r}; known: {', '.join(HANDLERS)}") from None
