"""Helpers shared by the remote embedders."""

from __future__ import annotations

import numpy as np


def normalise(rows: list[list[float]]) -> np.ndarray:
    """Stack provider vectors into a float32 matrix with unit-length rows (zero rows stay zero)."""
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(rows), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)
