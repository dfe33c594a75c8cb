"""API key format, hashing and verification.

A key is ``sgt_<12-char prefix>_<43-char secret>``. The prefix is the public lookup id;
the secret has 256 bits of entropy, so one SHA-256 (not a slow password hash) is enough
and keeps authentication cheap. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

KEY_PREFIX = "sgt_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
PREFIX_LENGTH = 12


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate() -> tuple[str, str, str]:
    """Return ``(full_key, prefix, secret_hash)``."""
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}{prefix}_{secret}", prefix, hash_secret(secret)


def parse(full_key: str) -> tuple[str, str] | None:
    """``sgt_<prefix>_<secret>`` → ``(prefix, secret)``, or ``None`` if malformed."""
    if not full_key.startswith(KEY_PREFIX):
        return None
    rest = full_key[len(KEY_PREFIX) :]
    prefix, sep, secret = rest[:PREFIX_LENGTH], rest[PREFIX_LENGTH : PREFIX_LENGTH + 1], rest[PREFIX_LENGTH + 1 :]
    if sep != "_" or len(prefix) != PREFIX_LENGTH or len(secret) < 20 or len(secret) > 128:
        return None
    if any(c not in _PREFIX_ALPHABET for c in prefix):
        return None
    return prefix, secret


# A key an operator brings from another system (seed 001's ``PUT .../settings`` with an
# ``api_key``) need not look like ours; this many characters keep a guess out of reach.
IMPORTED_MIN_LENGTH = 32
IMPORTED_MAX_LENGTH = 256


def imported_lookup(raw: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` for a key not in our format, or ``None`` if it cannot be one.

    Its lookup prefix is the start of its SHA-256 and its secret is the whole key, so
    :func:`secret_matches` checks it like any other and only its hash is stored.
    """
    if not IMPORTED_MIN_LENGTH <= len(raw) <= IMPORTED_MAX_LENGTH or not raw.isprintable() or " " in raw:
        return None
    return hash_secret(raw)[:PREFIX_LENGTH], raw


def lookup(raw: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` for one of our keys or an imported one; ``None`` if malformed."""
    return parse(raw) or imported_lookup(raw)


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def platform_key_matches(candidate: str, platform_key: str) -> bool:
    if not platform_key:
        return False
    return hmac.compare_digest(candidate.encode(), platform_key.encode())
