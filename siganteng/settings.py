"""Settings for SIGANTENG, read from the environment (12-factor).

Without any variables the project runs on the embedded default: SQLite (WAL, busy
timeout, immediate transactions), django-q2's ORM broker, a local-memory cache, local
file storage and the offline extractive LLM. ``DATABASE_URL``, ``REDIS_URL`` and the
S3 variables switch each part to its production counterpart; every variable is in
docs/reference/configuration.md (a test keeps that table equal to what this module reads).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from siganteng.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / env_str("VAR_DIR", "var")  # an absolute VAR_DIR replaces BASE_DIR
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "tenants.apps.BackOfficeAdminConfig",  # django.contrib.admin with the back-office's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served by the app: docs work offline
    # siganteng before django_q: its `qcluster` command (a cluster that hands running work
    # back when stopped, siganteng.shutdown) takes the place of django-q2's.
    "siganteng",
    "django_q",
    "tenants",
    "knowledge",
    "chat",
    "jobs",
    "followups",
]

MIDDLEWARE = [
    "siganteng.middleware.RequestIdMiddleware",
    "siganteng.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, Swagger's) served by the app itself, compressed; docs/adr/0022.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The back-office speaks the browser's language (Bahasa Indonesia or English) until a
    # staff member chooses one; tenants.middleware then applies their stored choice.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "siganteng.urls"
WSGI_APPLICATION = "siganteng.wsgi.application"
ASGI_APPLICATION = "siganteng.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.backoffice",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Each test run gets its own database so parallel runs on one server never collide.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("TEST_DB_NAME") or f"test_{DATABASES['default']['NAME']}_{os.getpid()}"
    }
else:
    SQLITE_PATH = Path(env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # WAL lets readers and one writer work at once; the busy timeout makes a
                # second writer wait instead of failing, and IMMEDIATE transactions take
                # the write lock up front so a read-then-write never deadlocks. Without
                # them a django-q2 cluster loses task results to "database is locked"
                # (docs/adr/0003-embedded-default.md).
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    f"PRAGMA busy_timeout={env_int('SQLITE_BUSY_TIMEOUT_MS', 20000, minimum=0)};"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("SQLITE_BUSY_TIMEOUT_MS", 20000, minimum=0) / 1000,
            },
            # Kept open between requests, as on PostgreSQL: a new connection per request
            # costs the PRAGMAs above and a re-read of the schema on its first statement.
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            # A file (not :memory:) so a qcluster subprocess started by a test can share it.
            "TEST": {"NAME": env_str("TEST_DB_NAME") or str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
# PostgreSQL: psycopg prepares a statement on the server once it has run this many times
# on a connection (its own ``prepare_threshold``). 0, the default, never prepares: named
# prepared statements collide behind a pooler in transaction mode (PgBouncer before 1.21).
DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 0, minimum=0)
if DB_PREPARE_THRESHOLD and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = DB_PREPARE_THRESHOLD

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -----------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "siganteng"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_WORKERS = env_int("Q_WORKERS", 2, minimum=1)
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "siganteng"),
    "workers": Q_WORKERS,
    # A task may run `timeout` seconds; the broker hands it out again after `retry`
    # seconds, which must be longer so a slow task is never run twice at once.
    "timeout": env_int("Q_TIMEOUT", 300, minimum=1),
    "retry": env_int("Q_RETRY", 360, minimum=2),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3, minimum=1),
    # Chosen with bench/taskqueue.py (docs/adr/0004-task-cluster-settings.md): recycling
    # every 500 tasks (django-q2's default) stalls each worker for seconds; a large value
    # still bounds memory without the stalls.
    "recycle": env_int("Q_RECYCLE", 20000, minimum=0),
    # 0 = keep every result and never prune on the monitor's hot path; results older than
    # 24 h are pruned by an hourly schedule instead (siganteng.tasks.prune_task_results).
    "save_limit": env_int("Q_SAVE_LIMIT", 0),
    "ack_failures": True,
    "catch_up": False,
    "poll": env_float("Q_POLL", 0.1),
    "label": "Task queue",
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# A stopped cluster lets running jobs and follow-up deliveries go on this long, then hands
# them back to the queue (siganteng.shutdown); a supervisor's kill timeout must be longer.
Q_STOP_GRACE_SECONDS = env_float("Q_STOP_GRACE_SECONDS", 10.0)

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns at start-up when it is missing
# WhiteNoise also serves the apps' own static files when collectstatic has not run (a first
# `manage.py serve` without DEBUG): the admin and the API docs never render unstyled.
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    # The endpoint presigned URLs name, when clients reach the store at another address than
    # this app does (MinIO in docker compose: http://minio:9000 inside, localhost outside).
    AWS_S3_PUBLIC_ENDPOINT_URL = env_str("AWS_S3_PUBLIC_ENDPOINT_URL")
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
    AWS_S3_ADDRESSING_STYLE = env_str("AWS_S3_ADDRESSING_STYLE", "path")
    AWS_S3_SIGNATURE_VERSION = "s3v4"
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = 3600
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    # WhiteNoise serves what collectstatic gathered, pre-compressed (gzip/brotli), from every
    # web process: no separate static server or bucket for a handful of admin files. Not
    # the manifest (hashed-name) variant: it would need collectstatic before every test run.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
SIGNED_URL_MAX_AGE = env_int("SIGNED_URL_MAX_AGE", 3600, minimum=1)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1)
# Seconds a request body may stall between bytes before the read fails (siganteng/wsgi.py),
# so a slow client cannot hold a web worker thread; 0 turns the limit off.
WEB_BODY_TIMEOUT = env_float("WEB_BODY_TIMEOUT", 10.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1)

# --- HTTP, CORS, security ----------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-api-key",
    "x-tenant-id",
    "x-request-id",
    "x-csrftoken",
)
CORS_EXPOSE_HEADERS = ("retry-after", "x-request-id")

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Outbound HTTP (siganteng.http): loopback and private targets are refused unless allowed.
OUTBOUND_ALLOW_PRIVATE = env_bool("OUTBOUND_ALLOW_PRIVATE", False)
OUTBOUND_TIMEOUT = env_float("OUTBOUND_TIMEOUT", 10.0)
OUTBOUND_MAX_BYTES = env_int("OUTBOUND_MAX_BYTES", 5 * 1024 * 1024, minimum=1)
OUTBOUND_USER_AGENT = env_str("OUTBOUND_USER_AGENT", "SIGANTENG/1.0 (+https://github.com/siganteng)")

# Channels and follow-ups (chat/channels, followups). Base URLs are settings so tests can
# point the transports at local servers; the defaults are the real services.
TELEGRAM_API_BASE = env_str("TELEGRAM_API_BASE", "https://api.telegram.org").rstrip("/")
WHATSAPP_API_BASE = env_str("WHATSAPP_API_BASE", "https://graph.facebook.com").rstrip("/")
WHATSAPP_API_VERSION = env_str("WHATSAPP_API_VERSION", "v21.0")
CHANNEL_TIMEOUT = env_float("CHANNEL_TIMEOUT", 10.0)
# A delivery renews its lease every third of this while it runs (siganteng.leases); a
# dead worker's follow-up is taken back by the reconciler once it runs out (within
# RECONCILE_INTERVAL more where the dedicated dispatcher runs).
FOLLOWUP_LEASE_SECONDS = env_int("FOLLOWUP_LEASE_SECONDS", 30, minimum=3)
FOLLOWUP_MAX_ATTEMPTS = env_int("FOLLOWUP_MAX_ATTEMPTS", 5, minimum=1)
FOLLOWUP_RETRY_BASE_SECONDS = env_float("FOLLOWUP_RETRY_BASE_SECONDS", 30.0)
FOLLOWUP_DISPATCH_BATCH = env_int("FOLLOWUP_DISPATCH_BATCH", 500, minimum=1)
# `serve` (and compose) run a dedicated dispatcher polling every FOLLOWUP_DISPATCH_INTERVAL
# seconds; the once-a-minute scheduled pass is the fallback, and may keep polling for
# FOLLOWUP_DISPATCH_LOOP_SECONDS where no dedicated dispatcher runs.
FOLLOWUP_DISPATCH_LOOP_SECONDS = env_float("FOLLOWUP_DISPATCH_LOOP_SECONDS", 0.0)
FOLLOWUP_DISPATCH_INTERVAL = env_float("FOLLOWUP_DISPATCH_INTERVAL", 0.5)
# The dedicated dispatcher also runs the jobs' and follow-ups' reconcilers this often, so
# a dead worker's job or follow-up is back in the queue within its lease and this interval.
RECONCILE_INTERVAL = env_float("RECONCILE_INTERVAL", 10.0)

# --- Authentication and API --------------------------------------------------------
# The admin shows a new API key once in a message: keep messages in a signed cookie so
# the secret never lands in the session table (the default falls back to the session).
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
ADMIN_API_KEY = env_str("ADMIN_API_KEY")
API_KEY_ROTATION_GRACE_SECONDS = env_int("API_KEY_ROTATION_GRACE_SECONDS", 24 * 3600, minimum=0)
FIRST_SUPERUSER_USERNAME = env_str("FIRST_SUPERUSER_USERNAME", "admin")
FIRST_SUPERUSER_PASSWORD = env_str("FIRST_SUPERUSER_PASSWORD")
# `manage.py seed` creates the demo tenant and prints its full-scope key. On by default for
# `make run`; docker-compose turns it off unless asked (SEED_DEMO=true).
SEED_DEMO = env_bool("SEED_DEMO", True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

_renderers = ["rest_framework.renderers.JSONRenderer"]
if DEBUG or env_bool("BROWSABLE_API", False):
    _renderers.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.auth.ApiKeyAuthentication",
        "tenants.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "tenants.permissions.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.throttles.TenantKeyThrottle"],
    "DEFAULT_PAGINATION_CLASS": "siganteng.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": _renderers,
    "DEFAULT_PARSER_CLASSES": [
        "siganteng.parsers.JSONParser",  # refuses over-deep nesting and unpaired surrogates (400)
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "siganteng.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "siganteng.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SIGANTENG API",
    "DESCRIPTION": "Multi-tenant backend for AI customer agents: chat, knowledge, jobs, channels, follow-ups.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every asset of the docs pages comes from this app (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerAuth": {"type": "http", "scheme": "bearer"},
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}, {"BearerAuth": []}],
    # llm_provider and llm_fallback_provider share one choice set: one enum name for both.
    "ENUM_NAME_OVERRIDES": {
        "LlmProviderEnum": "siganteng.ai.registry.llm_choices",
        "ChannelKindEnum": "chat.channels.registry.choices",
        "FollowUpStatusEnum": "followups.models.FollowUp.Status",
        "JobStatusEnum": "jobs.models.JobStatus",
        "BackgroundTaskStatusEnum": "jobs.models.BackgroundStatus",
        "KbDocumentStatusEnum": "knowledge.models.Document.Status",
        "KbSourceKindEnum": "knowledge.models.Source.Kind",
    },
}

# --- AI providers ------------------------------------------------------------------------
LLM_DEFAULT_PROVIDER = env_str("LLM_DEFAULT_PROVIDER", "extractive")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 30.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
LLM_RETRY_BACKOFF = env_float("LLM_RETRY_BACKOFF", 0.5)  # seconds before the first retry; doubles, capped at 8 s
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL") or None
OPENAI_DEFAULT_MODEL = env_str("OPENAI_DEFAULT_MODEL", "gpt-4o-mini")
GEMINI_API_KEY = env_str("GEMINI_API_KEY")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL") or None
GEMINI_DEFAULT_MODEL = env_str("GEMINI_DEFAULT_MODEL", "gemini-2.5-flash")

EMBEDDER = env_choice("EMBEDDER", ("none", "local", "openai", "gemini"), "none")
OPENAI_EMBEDDING_MODEL = env_str("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")
GEMINI_EMBEDDING_MODEL = env_str("GEMINI_EMBEDDING_MODEL", "text-embedding-004")

# --- Chat (chat app) ---------------------------------------------------------------------
CHAT_HISTORY_TOKENS = env_int("CHAT_HISTORY_TOKENS", 2000, minimum=0)  # recent history sent to the model
CHAT_RETRIEVAL_K = env_int("CHAT_RETRIEVAL_K", 5, minimum=0)  # passages retrieved per reply
CHAT_MAX_TOOL_STEPS = env_int("CHAT_MAX_TOOL_STEPS", 3, minimum=0)  # tool-call rounds per reply
CHAT_DEBOUNCE_MAX_SECONDS = env_float("CHAT_DEBOUNCE_MAX_SECONDS", 10.0)  # cap on a tenant's burst quiet time
INBOX_POLL_SECONDS = env_float("INBOX_POLL_SECONDS", 2.0)  # how often the open inbox asks for changes
# Unit prices in USD per million tokens, by model name; models not listed (the offline
# extractive one) cost 0. LLM_PRICES_JSON='{"my-model": {"input": 1.0, "output": 2.0}}' adds or overrides.
LLM_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50},
    "gemini-2.5-pro": {"input": 1.25, "output": 10.00},
}
if env_str("LLM_PRICES_JSON"):
    import json as _json

    try:
        LLM_PRICES.update(
            {
                str(k): {"input": float(v["input"]), "output": float(v["output"])}
                for k, v in _json.loads(env_str("LLM_PRICES_JSON")).items()
            }
        )
    except (ValueError, TypeError, KeyError, AttributeError) as _exc:
        raise ImproperlyConfigured(f"LLM_PRICES_JSON must map model -> {{input, output}}: {_exc}") from None

# --- Metrics (siganteng.metrics, /metrics) ---------------------------------------------
# Every process writes its counters to files in this directory and /metrics adds them up
# (prometheus-client's multiprocess mode), so web and cluster workers must share it.
# prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported: set it here.
METRICS_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR") or str(VAR_DIR / "metrics"))
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# Off: no process counts anything (the helpers of siganteng.metrics do nothing) and
# /metrics answers 404; the access log lines stay.
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
# Bearer token /metrics requires; empty = /metrics answers 404 (off).
METRICS_TOKEN = env_str("METRICS_TOKEN")
# A tenant label on the per-tenant counters: one series per tenant, so off unless asked.
METRICS_TENANT_LABEL = env_bool("METRICS_TENANT_LABEL", False)

# --- Logging -------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# "json": one JSON object a line (production, log shippers); "plain": readable lines.
LOG_FORMAT = env_choice("LOG_FORMAT", ("json", "plain"), "plain" if DEBUG else "json")
# django-q2 logs two INFO lines per task ("processing", "Processed") and one per enqueue;
# jobs keep their own event log, so the cluster logs warnings and errors (failed tasks,
# timeouts, dead workers) unless asked for more.
Q_LOG_LEVEL = env_str("Q_LOG_LEVEL", "WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "siganteng.middleware.RequestIdLogFilter"}},
    "formatters": {
        # Both redact API keys, tokens, webhook secrets and phone numbers (siganteng.logs).
        "plain": {
            "()": "siganteng.logs.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {
            "()": "siganteng.logs.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "request_id", "message"],
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django-q": {"level": Q_LOG_LEVEL},
        # httpx logs every request's full URL at INFO, and Telegram's carries the bot token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

LANGUAGE_CODE = "en"
# The back-office's languages; Django's admin ships both, the project's own strings are
# in locale/id/LC_MESSAGES/django.po (compiled by `make run` and `make test`).
LANGUAGES = [("id", "Bahasa Indonesia"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Languages a tenant's agent may speak to its customers (Tenant.locale).
TENANT_LOCALES = [
    ("id", "Bahasa Indonesia"),
    ("en", "English"),
    ("ms", "Bahasa Melayu"),
    ("jv", "Basa Jawa"),
    ("su", "Basa Sunda"),
]

# --- Email (invitations, staff notifications) ---------------------------------------------
# The console backend prints mail to the server's output; EMAIL_HOST switches to SMTP.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "SIGANTENG <no-reply@localhost>")
# How long an invitation link to the back-office stays valid.
INVITATION_MAX_AGE_SECONDS = env_int("INVITATION_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=60)

# --- Secrets at rest (siganteng/crypto.py) --------------------------------------------------
# Channel secrets, tool signing secrets and tenant webhook secrets are encrypted with
# Fernet keys, newest first: the first encrypts, every one decrypts, so a key is rotated
# by putting a new one in front and running `manage.py rotate_secrets`. Without it,
# DEBUG derives a development key from SECRET_KEY; production must set it (system check).
SECRETS_ENCRYPTION_KEYS = env_list("SECRETS_ENCRYPTION_KEYS")

# --- Jobs (jobs app) ----------------------------------------------------------------------
# A running job holds a lease that its runner renews with every progress report; the
# reconciler (jobs.tasks.reconcile_jobs) takes back jobs past their lease or queued too long.
# A running internal job renews its lease every third of this (siganteng.leases), so a dead
# cluster's jobs are taken back by the next reconciler pass after it runs out (the
# dedicated dispatcher runs one every RECONCILE_INTERVAL seconds).
JOBS_LEASE_SECONDS = env_int("JOBS_LEASE_SECONDS", 30, minimum=1)
# Internal jobs one tenant runs at once when its own max_concurrent_jobs is empty: half the
# cluster's workers (at least one), so another tenant always finds a free worker; it holds
# even for a tenant alone (jobs/services/fairness.py).
JOBS_TENANT_CONCURRENCY = env_int("JOBS_TENANT_CONCURRENCY", max(1, Q_WORKERS // 2), minimum=1)
JOBS_WORKER_LEASE_SECONDS = env_int("JOBS_WORKER_LEASE_SECONDS", 300, minimum=1)
JOBS_QUEUED_STALE_SECONDS = env_int("JOBS_QUEUED_STALE_SECONDS", 120, minimum=1)
JOBS_MAX_ATTEMPTS = env_int("JOBS_MAX_ATTEMPTS", 3, minimum=1)
JOBS_BATCH_MAX = env_int("JOBS_BATCH_MAX", 100, minimum=1)
JOBS_RETRY_BACKOFF_SECONDS = env_float("JOBS_RETRY_BACKOFF_SECONDS", 10.0)
JOBS_WEBHOOK_MAX_ATTEMPTS = env_int("JOBS_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
JOBS_WEBHOOK_BACKOFF_SECONDS = env_float("JOBS_WEBHOOK_BACKOFF_SECONDS", 30.0)
# Text-to-speech: "espeak" (offline, espeak-ng) or "openai" (audio/speech).
TTS_PROVIDER = env_choice("TTS_PROVIDER", ("espeak", "openai"), "espeak")
ESPEAK_BINARY = env_str("ESPEAK_BINARY", "espeak-ng")
OPENAI_TTS_MODEL = env_str("OPENAI_TTS_MODEL", "gpt-4o-mini-tts")

# --- Knowledge base (knowledge app) -------------------------------------------------------
KB_CHUNK_TARGET_TOKENS = env_int("KB_CHUNK_TARGET_TOKENS", 200, minimum=20)
KB_CHUNK_OVERLAP_TOKENS = env_int("KB_CHUNK_OVERLAP_TOKENS", 30, minimum=0)
KB_EMBED_BATCH = env_int("KB_EMBED_BATCH", 32, minimum=1)
KB_UPLOAD_MAX_BYTES = env_int("KB_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Zip-based documents (.docx) are refused before parsing when they would inflate past this
# many bytes or hold more members; the same byte limit caps the text taken from a PDF.
KB_ARCHIVE_MAX_BYTES = env_int("KB_ARCHIVE_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
KB_ARCHIVE_MAX_MEMBERS = env_int("KB_ARCHIVE_MAX_MEMBERS", 1000, minimum=10)
# A document still PENDING this long after its last change lost its ingestion wake-up
# (a worker died): the reconciler queues it again.
KB_PENDING_RECOVER_AFTER = env_int("KB_PENDING_RECOVER_AFTER", 300, minimum=30)
KB_SOURCE_MAX_BYTES = env_int("KB_SOURCE_MAX_BYTES", 2 * 1024 * 1024, minimum=1)
KB_SOURCE_TIMEOUT = env_float("KB_SOURCE_TIMEOUT", 10.0)
KB_SOURCE_MAX_ITEMS = env_int("KB_SOURCE_MAX_ITEMS", 50, minimum=1)
KB_CANDIDATES = env_int("KB_CANDIDATES", 100, minimum=1)  # per retriever, before fusion
KB_SEARCH_MAX_K = 100
KB_MAX_QUERY_TERMS = 32
KB_MATRIX_CACHE_TENANTS = env_int("KB_MATRIX_CACHE_TENANTS", 16, minimum=1)
KB_PG_RANK_NORMALIZATION = 1  # ts_rank: divide by 1 + log(length)
# PostgreSQL lexical bounds (knowledge.retrieval._pg_lexical), chosen with bench/retrieval.py:
# docs/adr/0008-bounded-postgresql-lexical-search.md; figures in docs/benchmarks/.
KB_PG_DF_CAP = env_int("KB_PG_DF_CAP", 20000, minimum=1)  # document frequencies are counted up to this
# A lexeme among pg_stats' most common ones, estimated in at least this many of the tenant's
# chunks, is not counted: its frequency there (refreshed by ANALYZE) times the chunks is used.
KB_PG_DF_ESTIMATE_FROM = env_int("KB_PG_DF_ESTIMATE_FROM", 1000, minimum=1)
KB_PG_STATS_TTL = env_float("KB_PG_STATS_TTL", 300.0)  # s between re-reads of pg_stats' common lexemes
# Chunks ranked per query at most (rarest terms first; all terms first when every word is
# common); 2000 was faster than 5000 and kept the quality 1000 lost (docs/adr/0008).
KB_PG_MATCH_BUDGET = env_int("KB_PG_MATCH_BUDGET", 2000, minimum=1)
KB_RRF_K = 60
# (lexical, dense) weights for reciprocal-rank fusion, "<language>:<embedder>" (* = any),
# chosen with bench/retrieval.py on TyDi QA (Indonesian) and NFCorpus (English):
# docs/adr/0009-fusion-weights-by-measurement.md. The English-only local model lowers
# Indonesian ranking at any weight, so 0 (the query is not embedded); other languages
# with it are unmeasured (lexical only); multilingual provider embedders get equal weights.
KB_FUSION_WEIGHTS: dict[str, tuple[float, float]] = {
    "indonesian:local": (1.0, 0.0),
    "english:local": (1.0, 0.8),
    "*:local": (1.0, 0.0),
    "*:*": (1.0, 1.0),
}
