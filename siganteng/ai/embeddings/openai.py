"""OpenAI embeddings (``POST /embeddings``) through the official SDK; any
OpenAI-compatible server via ``OPENAI_BASE_URL``. Vectors are re-normalised here
because compatible servers do not all return unit vectors."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from siganteng.ai.base import ProviderError
from siganteng.ai.embeddings._util import normalise
from siganteng.ai.providers._retry import ClientCache, with_retries
from siganteng.ai.providers.openai import _build_client, to_error


class OpenAIEmbedder:
    name = "openai"
    batch_size = 96

    def __init__(self) -> None:
        self.model = settings.OPENAI_EMBEDDING_MODEL
        self.dimensions = 0  # known after the first call
        self._clients = ClientCache(_build_client)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length float32 row per text, in input order."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if not settings.OPENAI_API_KEY:
            raise ProviderError("OPENAI_API_KEY is not set.", permanent=True, provider=self.name)
        client = self._clients.get(settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.LLM_TIMEOUT)
        response = with_retries(
            lambda: client.embeddings.create(model=self.model, input=list(texts), encoding_format="float"),
            to_error=to_error,
        )
        rows = sorted(response.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise ProviderError(
                f"OpenAI returned {len(rows)} embeddings for {len(texts)} texts.", permanent=False, provider=self.name
            )
        matrix = normalise([r.embedding for r in rows])
        self.dimensions = matrix.shape[1]
        return matrix
