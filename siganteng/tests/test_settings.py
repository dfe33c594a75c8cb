"""Strict environment readers and the system checks for bad combinations."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from siganteng import checks, env
from siganteng.testing import BASE_DIR


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("1", True),
        ("Yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("OFF", False),
    ],
)
def test_it_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env.env_bool("X_FLAG") is expected


@pytest.mark.parametrize(
    "reader, raw",
    [
        (lambda: env.env_bool("X_VAL"), "x"),
        (lambda: env.env_bool("X_VAL"), "maybe"),
        (lambda: env.env_int("X_VAL", 1), "ten"),
        (lambda: env.env_int("X_VAL", 1), "1.5"),
        (lambda: env.env_int("X_VAL", 1, minimum=2), "1"),
        (lambda: env.env_float("X_VAL", 1.0), "fast"),
        (lambda: env.env_choice("X_VAL", ("a", "b"), "a"), "c"),
        (lambda: env.database_from_url("mysql://u@h/db"), "unused"),
        (lambda: env.database_from_url("postgres://u@h/"), "unused"),
    ],
)
def test_it_raises_on_garbage_naming_the_variable(monkeypatch, reader, raw):
    monkeypatch.setenv("X_VAL", raw)
    with pytest.raises(ImproperlyConfigured) as info:
        reader()
    assert "X_VAL" in str(info.value) or "DATABASE_URL" in str(info.value)


def test_it_uses_defaults_for_unset_or_blank_variables(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    monkeypatch.setenv("X_BLANK", "  ")
    assert env.env_bool("X_UNSET", True) is True and env.env_bool("X_BLANK") is False
    assert env.env_int("X_UNSET", 7) == 7 and env.env_float("X_BLANK", 0.5) == 0.5
    monkeypatch.setenv("X_LIST", "a, b,,c ")
    assert env.env_list("X_LIST") == ["a", "b", "c"]


def test_it_parses_database_urls():
    db = env.database_from_url("postgresql://user:p%40ss@db.example:6543/app?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "user",
        "p@ss",
        "db.example",
        "6543",
        "app",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def _ids(settings) -> set[str]:
    return {p.id for p in checks.configuration_checks()}


def test_it_reports_bad_combinations_as_system_check_errors(settings):
    assert not {i for i in _ids(settings) if i.startswith("siganteng.E")}
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 400, "retry": 360}
    assert "siganteng.E001" in _ids(settings)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 300, "max_attempts": 0}
    assert "siganteng.E008" in _ids(settings)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "max_attempts": 3}
    settings.EMBEDDER = "openai"
    settings.OPENAI_API_KEY = ""
    assert "siganteng.E003" in _ids(settings)
    settings.EMBEDDER = "none"
    settings.LLM_DEFAULT_PROVIDER = "gemini"
    settings.GEMINI_API_KEY = ""
    assert "siganteng.E006" in _ids(settings)
    settings.LLM_DEFAULT_PROVIDER = "extractive"
    settings.ADMIN_API_KEY = "short"
    assert "siganteng.E007" in _ids(settings)
    settings.ADMIN_API_KEY = "x" * 40
    settings.DEBUG = False
    settings.OUTBOUND_ALLOW_PRIVATE = True
    assert "siganteng.W001" in _ids(settings)


def test_it_reports_an_empty_allowed_hosts_in_the_deploy_checks(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = []
    assert "siganteng.E002" in {p.id for p in checks.deployment_checks()}


def _manage(*args: str, **env_over: str) -> subprocess.CompletedProcess:
    import os

    environ = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environ.update(env_over)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environ, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_on_malformed_configuration():
    bad_bool = _manage("check", DEBUG="maybe", SECRET_KEY="x")
    assert bad_bool.returncode != 0 and "DEBUG must be one of" in bad_bool.stderr
    no_secret = _manage("check", DEBUG="false")
    assert no_secret.returncode != 0 and "SECRET_KEY is required" in no_secret.stderr
    bad_combo = _manage("check", SECRET_KEY="x", Q_TIMEOUT="500", Q_RETRY="100")
    assert bad_combo.returncode != 0 and "siganteng.E001" in bad_combo.stderr
    assert _manage("check", SECRET_KEY="x").returncode == 0


def test_it_prepares_statements_on_the_server_only_when_asked():
    """psycopg's own prepare_threshold, off by default: named prepared statements collide
    behind a pooler in transaction mode."""
    show = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}))"
    url = "postgres://nobody@127.0.0.1:5432/unused"
    default = _manage("shell", "-c", show, SECRET_KEY="x", DATABASE_URL=url)
    assert default.returncode == 0, default.stderr
    assert "prepare_threshold" not in default.stdout
    asked = _manage("shell", "-c", show, SECRET_KEY="x", DATABASE_URL=url, DB_PREPARE_THRESHOLD="5")
    assert asked.returncode == 0, asked.stderr
    assert "'prepare_threshold': 5" in asked.stdout
