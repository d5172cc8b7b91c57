"""IMCBench Studio settings, read from the environment.

Embedded default (nothing set): DEBUG on, SQLite under ``data/``, Celery tasks run eagerly in-process,
media under ``data/media``. A real deployment sets ``DEBUG=0``, ``SECRET_KEY``, ``ALLOWED_HOSTS``,
``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from imcbench_site.env import env_bool, env_int, env_list, env_str
from imcbench_site.oidc import BACKEND as OIDC_BACKEND
from imcbench_site.oidc import oidc_settings

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("IMCBENCH_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", default=True)
WHITENOISE_USE_FINDERS = DEBUG

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off, set SECRET_KEY to a long random string, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is empty. With DEBUG off, set ALLOWED_HOSTS=host1,host2.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "imcbench_site",  # first, so its runserver (which survives an unavailable database) wins
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "annotation",
    "jury",
    "generation",
    "bundles",
    "api",
]

MIDDLEWARE = [
    "imcbench_site.observability.RequestObservabilityMiddleware",  # first: the request id covers everything after
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "imcbench_site.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "imcbench_site.middleware.PrivateCacheMiddleware",
    "imcbench_site.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a refused login into the lockout answer
]

ROOT_URLCONF = "imcbench_site.urls"
WSGI_APPLICATION = "imcbench_site.wsgi.application"
ASGI_APPLICATION = "imcbench_site.asgi.application"

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
                "django.template.context_processors.csp",
                "annotation.context_processors.roles",
            ],
        },
    },
]

DEFAULT_SQLITE_URL = f"sqlite:///{DATA_DIR / 'imcbench.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", DEFAULT_SQLITE_URL)
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
except ValueError as error:
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r} cannot be parsed: {error}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
    # A file (not :memory:) so live-server browser tests share it; one per test process so runs never collide.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Login throttling (django-axes), on the site's and the admin's login alike: after AXES_FAILURE_LIMIT wrong
# passwords for one username from one address, that pair is refused for AXES_COOLOFF_MINUTES (the right password
# too). Another address, or another username, is not affected. The address is REMOTE_ADDR.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # its info lines on every login are noise in the logs

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Single sign-on (OpenID Connect, mozilla-django-oidc): on when OIDC_* are set (all of them: imcbench_site/oidc.py),
# beside local accounts. The provider's group claim gives the roles at every login (annotation/sso.py).
_oidc = oidc_settings(os.environ)
OIDC_ENABLED = _oidc.pop("OIDC_ENABLED")
globals().update(_oidc)  # the OIDC_* names mozilla-django-oidc reads
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append(OIDC_BACKEND)
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
OIDC_OP_LOGOUT_URL_METHOD = "annotation.sso.logout_url"
LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"

# Django's built-in Content Security Policy: no inline scripts anywhere, everything from our own origin.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"  # no page of the site is ever framed, not even by the site itself

# HTTPS. With DEBUG off everything defaults to secure; a deployment behind a TLS-terminating proxy names the
# header the proxy sets (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto), or the redirect to HTTPS never ends.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapes from the internal network
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# `manage.py check --deploy` warns that HSTS preloading is off (security.W021); silenced on purpose: preloading
# commits the domain and every subdomain to HTTPS in every browser for months and is slow to undo, so an operator
# turns it on knowingly (SECURE_HSTS_PRELOAD=1), never by default. It is the only check silenced.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER")
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

# Celery: with no broker named, tasks run eagerly in the calling process (the embedded default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 0) or None  # None: one process per core
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Task modules not named tasks.py, which autodiscovery finds alone.
CELERY_IMPORTS = ["jury.results.export_jobs", "bundles.uploads"]
# One queue per kind of work, so a long jury run never holds up an export or an import: run a worker per queue
# (Procfile, compose.yaml). Everything else (the periodic sweeps, the ping) stays on the default "celery" queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "jury.export_tasks.run_export_job": {"queue": "exports"},
    "jury.tasks.*": {"queue": "jury"},
    "generation.tasks.*": {"queue": "generation"},
    "bundles.run_bundle_upload": {"queue": "imports"},
}
# Periodic work, for `celery beat` (one beat process per deployment).
EXPORT_RETENTION_DAYS = env_int("EXPORT_RETENTION_DAYS", 30)  # finished exports (and their files) are deleted after
UPLOAD_RETENTION_DAYS = env_int("UPLOAD_RETENTION_DAYS", 7)  # bundle upload files never imported are deleted after
CELERY_BEAT_SCHEDULE = {
    "expire-annotation-leases": {
        "task": "annotation.tasks.expire_stale_leases",
        "schedule": timedelta(minutes=env_int("LEASE_SWEEP_MINUTES", 5)),
    },
    "delete-old-exports": {"task": "jury.export_tasks.delete_old_exports", "schedule": timedelta(days=1)},
    "delete-abandoned-uploads": {"task": "bundles.delete_abandoned_uploads", "schedule": timedelta(days=1)},
}
CELERY_BEAT_SCHEDULE_FILENAME = env_str("CELERY_BEAT_SCHEDULE_FILENAME", str(DATA_DIR / "celerybeat-schedule"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["annotation.roles.IsResearcher"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IMCBench Studio API",
    "DESCRIPTION": (
        "Cases, conversations, annotations and jury results of the IMCBench benchmark, for researchers and admins."
        "\n\n**Getting a token.** Sign in to the studio and open **Account** (`/account/`); *Create a token* shows "
        "its key once. Send it with every request as `Authorization: Token <key>` (in these docs: *Authorize*, "
        "then `Token <key>`). Revoke it on the same page when it may have leaked."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["annotation.roles.IsResearcher"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Without deep links an operation's summary is one button, not a link nested in a button.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
}

# Bundle import limits.
BUNDLE_MAX_ERRORS = env_int("BUNDLE_MAX_ERRORS", 50)
BUNDLE_MAX_UNCOMPRESSED_BYTES = env_int("BUNDLE_MAX_UNCOMPRESSED_BYTES", 2 * 1024**3)
BUNDLE_MAX_COMPRESSION_RATIO = env_int("BUNDLE_MAX_COMPRESSION_RATIO", 100)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 100_000_000)
BUNDLE_MAX_TURN_CHARS = env_int("BUNDLE_MAX_TURN_CHARS", 100_000)  # a turn's content, and a judge's raw reply
BUNDLE_MAX_RATIONALE_CHARS = env_int("BUNDLE_MAX_RATIONALE_CHARS", 20_000)  # annotation and judgement rationales

# Tests that need PostgreSQL/Redis fail (instead of skipping) when this is on; CI turns it on.
IMCBENCH_REQUIRE_SERVICES = env_bool("IMCBENCH_REQUIRE_SERVICES", default=False)

# Logs: one JSON object per line (LOG_FORMAT=json, the default with DEBUG off) or plain text, each record with the
# request's id (imcbench_site/observability.py). SQL is never logged: its parameters would be patient content.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is neither json nor text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "imcbench_site.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "imcbench_site.observability.JsonLogFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING too, in the same format

# Prometheus metrics at /metrics, for a scraper that sends "Authorization: Bearer $METRICS_TOKEN" (404 when unset).
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN is not None and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN is shorter than 16 characters: use a long random string.")

# --------------------------------------------------------------------------------------------- jury (issue 6)
# Provider keys come only from the environment and are never logged. Limits are per provider:
# JURY_<PROVIDER>_CONCURRENCY (calls in flight) and JURY_<PROVIDER>_RPM (requests per minute, 0: none). They hold
# over every worker process through Redis (JURY_LIMITER_URL, by default the Redis broker; "local": per process).
JURY_PROVIDERS = {
    "anthropic": {
        "api_key": env_str("ANTHROPIC_API_KEY"),
        "base_url": env_str("ANTHROPIC_BASE_URL"),
        "concurrency": env_int("JURY_ANTHROPIC_CONCURRENCY", 4),
        "rpm": env_int("JURY_ANTHROPIC_RPM", 50),
    },
    "openai": {
        "api_key": env_str("OPENAI_API_KEY"),
        "base_url": env_str("OPENAI_BASE_URL"),  # any OpenAI-compatible server: vLLM, Ollama, …
        "concurrency": env_int("JURY_OPENAI_CONCURRENCY", 4),
        "rpm": env_int("JURY_OPENAI_RPM", 60),
    },
    "bedrock": {
        "region": env_str("JURY_BEDROCK_REGION", env_str("AWS_REGION")),
        "concurrency": env_int("JURY_BEDROCK_CONCURRENCY", 4),
        "rpm": env_int("JURY_BEDROCK_RPM", 60),
    },
    "simulated": {
        "seed": env_int("JURY_SIMULATED_SEED", 0),
        "concurrency": env_int("JURY_SIMULATED_CONCURRENCY", 8),
        "rpm": env_int("JURY_SIMULATED_RPM", 0),
    },
}
_limiter_url = env_str("JURY_LIMITER_URL", CELERY_BROKER_URL if (CELERY_BROKER_URL or "").startswith("redis") else None)
JURY_LIMITER_URL = None if _limiter_url in (None, "local") else _limiter_url
JURY_LIMITER_LEASE_SECONDS = env_int("JURY_LIMITER_LEASE_SECONDS", 30)  # a dead worker's slots return after this
JURY_CHUNK_SIZE = env_int("JURY_CHUNK_SIZE", 200)  # items one task claims before handing on to the next task
JURY_PARALLEL_CHUNKS = env_int("JURY_PARALLEL_CHUNKS", 2)  # chunk tasks started at once per run
JURY_LEASE_SECONDS = env_int("JURY_LEASE_SECONDS", 120)  # a claimed item whose worker died is reclaimed after this
JURY_MAX_TRANSIENT_RETRIES = env_int("JURY_MAX_TRANSIENT_RETRIES", 5)
JURY_BACKOFF_BASE_SECONDS = float(env_str("JURY_BACKOFF_BASE_SECONDS", "1.0"))
JURY_BACKOFF_MAX_SECONDS = float(env_str("JURY_BACKOFF_MAX_SECONDS", "60.0"))
JURY_PROVIDER_TIMEOUT_SECONDS = float(env_str("JURY_PROVIDER_TIMEOUT_SECONDS", "60.0"))

# ------------------------------------------------------------------------------ conversation generation (issue 8)
# A generation item is a whole conversation (several calls), so its lease is longer than a judgement's.
GENERATION_LEASE_SECONDS = env_int("GENERATION_LEASE_SECONDS", 600)
GENERATION_CHUNK_SIZE = env_int("GENERATION_CHUNK_SIZE", 50)  # conversations one task takes before handing on
GENERATION_PARALLEL_CHUNKS = env_int("GENERATION_PARALLEL_CHUNKS", 2)
# The SDKs log every HTTP request at INFO; keep them to warnings (they never log keys, but the noise is useless).
LOGGING.setdefault("loggers", {}).update(
    {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "openai", "anthropic", "botocore", "urllib3")}
)
