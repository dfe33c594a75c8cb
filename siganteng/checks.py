"""System checks for configuration combinations that parse but cannot work."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from siganteng import crypto


@register()
def configuration_checks(app_configs=None, **kwargs) -> list:
    problems: list = []
    q = settings.Q_CLUSTER
    if q["timeout"] >= q["retry"]:
        problems.append(
            Error(
                f"Q_TIMEOUT ({q['timeout']}) must be lower than Q_RETRY ({q['retry']}).",
                hint="Otherwise the broker re-delivers a task that is still running.",
                id="siganteng.E001",
            )
        )
    if q.get("max_attempts", 0) < 1:
        problems.append(Error("Q_MAX_ATTEMPTS must be at least 1 (0 retries forever).", id="siganteng.E008"))
    if settings.EMBEDDER == "openai" and not settings.OPENAI_API_KEY:
        problems.append(Error("EMBEDDER=openai needs OPENAI_API_KEY.", id="siganteng.E003"))
    if settings.EMBEDDER == "gemini" and not settings.GEMINI_API_KEY:
        problems.append(Error("EMBEDDER=gemini needs GEMINI_API_KEY.", id="siganteng.E004"))
    if settings.LLM_DEFAULT_PROVIDER == "openai" and not settings.OPENAI_API_KEY:
        problems.append(Error("LLM_DEFAULT_PROVIDER=openai needs OPENAI_API_KEY.", id="siganteng.E005"))
    if settings.LLM_DEFAULT_PROVIDER == "gemini" and not settings.GEMINI_API_KEY:
        problems.append(Error("LLM_DEFAULT_PROVIDER=gemini needs GEMINI_API_KEY.", id="siganteng.E006"))
    if not settings.DEBUG and settings.OUTBOUND_ALLOW_PRIVATE:
        problems.append(
            Warning(
                "OUTBOUND_ALLOW_PRIVATE is on while DEBUG is off: tenant-supplied URLs may reach "
                "private and loopback addresses.",
                id="siganteng.W001",
            )
        )
    if settings.ADMIN_API_KEY and len(settings.ADMIN_API_KEY) < 32:
        problems.append(Error("ADMIN_API_KEY must be at least 32 characters.", id="siganteng.E007"))
    for problem in crypto.key_problems(settings.SECRETS_ENCRYPTION_KEYS):
        problems.append(Error(f"SECRETS_ENCRYPTION_KEYS: {problem}.", id="siganteng.E010"))
    if settings.REDIS_URL and "orm" in q:
        problems.append(Error("Q_CLUSTER has both a Redis and an ORM broker.", id="siganteng.E009"))
    if getattr(settings, "AWS_STORAGE_BUCKET_NAME", "") and not (
        settings.AWS_ACCESS_KEY_ID or getattr(settings, "AWS_S3_ENDPOINT_URL", None)
    ):
        problems.append(
            Warning(
                "AWS_STORAGE_BUCKET_NAME is set without AWS_ACCESS_KEY_ID or AWS_S3_ENDPOINT_URL: "
                "boto3 falls back to its own credential chain.",
                id="siganteng.W002",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def deployment_checks(app_configs=None, **kwargs) -> list:
    """Only with ``manage.py check --deploy``: commands that never serve requests (the
    schema export, migrations in CI) need no ALLOWED_HOSTS."""
    problems: list = []
    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        problems.append(Error("ALLOWED_HOSTS is empty while DEBUG is off.", id="siganteng.E002"))
    if not settings.DEBUG and not settings.SECRETS_ENCRYPTION_KEYS:
        problems.append(
            Error(
                "SECRETS_ENCRYPTION_KEYS is empty while DEBUG is off: channel, tool and webhook secrets "
                "cannot be stored or read.",
                hint='Generate one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"',
                id="siganteng.E011",
            )
        )
    if not settings.ADMIN_API_KEY:
        problems.append(
            Warning("ADMIN_API_KEY is not set: tenants can only be managed in the admin.", id="siganteng.W003")
        )
    return problems
