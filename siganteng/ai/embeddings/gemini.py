"""Gemini embeddings (``models/{model}:batchEmbedContents``) through the official
``google-genai`` SDK; ``GEMINI_BASE_URL`` points it elsewhere (a proxy, the test fake)."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from google.genai import types

from siganteng.ai.base import ProviderError
from siganteng.ai.embeddings._util import normalise
from siganteng.ai.providers._retry import ClientCache, with_retries
from siganteng.ai.providers.gemini import _build_client, to_error


class GeminiEmbedder:
    name = "gemini"
    batch_size = 100  # the API's limit per batchEmbedContents call

    def __init__(self) -> None:
        self.model = settings.GEMINI_EMBEDDING_MODEL
        self.dimensions = 0  # known after the first call
        self._clients = ClientCache(_build_client)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length float32 row per text, in input order."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if not settings.GEMINI_API_KEY:
            raise ProviderError("GEMINI_API_KEY is not set.", permanent=True, provider=self.name)
        client = self._clients.get(settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL, settings.LLM_TIMEOUT)
        response = with_retries(
            lambda: client.models.embed_content(
                model=self.model,
                contents=list(texts),
                config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT"),
            ),
            to_error=to_error,
        )
        embeddings = response.embeddings or []
        if len(embeddings) != len(texts):
            raise ProviderError(
                f"Gemini returned {len(embeddings)} embeddings for {len(texts)} texts.",
                permanent=False,
                provider=self.name,
            )
        matrix = normalise([e.values or [] for e in embeddings])
        self.dimensions = matrix.shape[1]
        return matrix
