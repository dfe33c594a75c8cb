"""What the benchmarks that run on Django's throw-away test database share: the settings
they run with (never a developer's secrets or data) and the percentile they report.

Imported by a bench script after it has put the project root first on ``sys.path``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet

BASE = Path(__file__).resolve().parent.parent

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siganteng.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("SECRETS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("VAR_DIR", str(BASE / "var" / "bench"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["OUTBOUND_ALLOW_PRIVATE"] = "true"


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
