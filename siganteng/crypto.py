"""Secrets at rest: channel tokens, tool signing secrets and tenant webhook secrets.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the keys in
``SECRETS_ENCRYPTION_KEYS``, newest first: the first key encrypts, every key decrypts
(MultiFernet), so a key is rotated by putting a new one in front, running
``manage.py rotate_secrets`` (re-encrypts every stored value under the new key) and then
dropping the old one. Without keys, DEBUG derives a development key from SECRET_KEY;
anywhere else encrypting or decrypting raises ImproperlyConfigured (and the deployment
check reports it).

Two model fields use this: :class:`EncryptedTextField` (a string) and
:class:`EncryptedJSONField` (a JSON object, e.g. a channel's secrets). Neither can be
searched or filtered on by value: each encryption of the same value differs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

_cache: dict[tuple[str, ...], MultiFernet] = {}


class SecretDecryptError(Exception):
    """A stored value could not be decrypted with any configured key."""


def development_key() -> str:
    """The DEBUG-only key derived from SECRET_KEY (never used with DEBUG off)."""
    digest = hashlib.sha256(b"siganteng.crypto:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> list[str]:
    """The keys in use, newest first; raises ImproperlyConfigured when there are none."""
    keys = list(settings.SECRETS_ENCRYPTION_KEYS)
    if keys:
        return keys
    if settings.DEBUG:
        return [development_key()]
    raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEYS is required when DEBUG is off (see siganteng/crypto.py).")


def key_problems(keys: list[str]) -> list[str]:
    """A description of every key that is not a Fernet key (32 url-safe base64 bytes)."""
    problems = []
    for index, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            problems.append(f"key {index} is not a Fernet key (32 url-safe base64-encoded bytes)")
    return problems


def _fernet() -> MultiFernet:
    keys = tuple(configured_keys())
    fernet = _cache.get(keys)
    if fernet is None:
        problems = key_problems(list(keys))
        if problems:
            raise ImproperlyConfigured("SECRETS_ENCRYPTION_KEYS: " + "; ".join(problems))
        fernet = _cache[keys] = MultiFernet([Fernet(key.encode()) for key in keys])
    return fernet


def encrypt(value: str) -> str:
    """The token for ``value`` under the newest key."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The value behind ``token``; :class:`SecretDecryptError` when no key opens it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptError("A stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS.") from None


def rotate(token: str) -> str:
    """``token`` re-encrypted under the newest key (unchanged value)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptError("A stored secret cannot be decrypted with SECRETS_ENCRYPTION_KEYS.") from None


class EncryptedTextField(models.TextField):
    """A string stored as a Fernet token; the empty string stays empty (nothing to hide)."""

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)


class EncryptedJSONField(models.TextField):
    """A JSON value stored as one Fernet token of its serialisation."""

    def from_db_value(self, value: str | None, expression, connection) -> Any:
        if value is None:
            return None
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj), sort_keys=True)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})
