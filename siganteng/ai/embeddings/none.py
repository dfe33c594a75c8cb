"""The ``none`` embedder: lexical retrieval only.

``registry.get_embedder("none")`` answers ``None`` so callers skip the dense side; this
class exists so the name resolves like every other and fails loudly if called anyway.
"""

from __future__ import annotations

import numpy as np


class NoEmbedder:
    name = "none"
    model = ""
    dimensions = 0
    batch_size = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("EMBEDDER=none has no vectors; retrieval is lexical only.")
