"""Settings come from the environment and fail loudly when they cannot be right."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_environment() -> dict[str, str]:
    """This process's environment without the settings a test chooses."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"}
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"  # the browser tests' conftest sets it; no deployment does
    }


def load_settings(code: str | None = None, **env: str) -> subprocess.CompletedProcess:
    clean = clean_environment()
    code = code or (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.ALLOWED_HOSTS, s.DEBUG)"
    )
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "imcbench_site.settings", **env},
    )


def test_embedded_default_is_sqlite_with_eager_tasks():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["django.db.backends.sqlite3", "True"]


def test_secret_key_is_required_when_debug_is_off():
    result = load_settings(DEBUG="0", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set. With DEBUG off, set SECRET_KEY" in result.stderr


def test_allowed_hosts_are_required_when_debug_is_off():
    result = load_settings(DEBUG="0", SECRET_KEY="x" * 50)
    assert (
        "ImproperlyConfigured: ALLOWED_HOSTS is empty. With DEBUG off, set ALLOWED_HOSTS=host1,host2." in result.stderr
    )


def test_a_boolean_that_is_not_one_is_refused():
    result = load_settings(DEBUG="maybe")
    assert "ImproperlyConfigured: DEBUG='maybe' is not a boolean" in result.stderr


def test_production_settings_use_postgres_and_a_broker():
    result = load_settings(
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="a.org,b.org",
        DATABASE_URL="postgres://u@db:5432/imc",
        CELERY_BROKER_URL="redis://r:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql False ['a.org', 'b.org'] False"


def test_an_unparseable_database_url_names_the_variable():
    result = load_settings(DATABASE_URL="nosuchdb://x")
    assert result.returncode != 0
    assert "DATABASE_URL='nosuchdb://x' cannot be parsed" in result.stderr


@pytest.mark.django_db
def test_every_response_carries_a_strict_content_security_policy(client):
    response = client.get("/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()


def test_the_embedded_default_creates_its_data_folder(tmp_path):
    data = tmp_path / "fresh" / "data"
    result = load_settings(IMCBENCH_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert data.is_dir()


PRODUCTION = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "imcbench.example.org"}


def test_check_deploy_before_collectstatic_finds_no_issue(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **clean_environment(),
            **PRODUCTION,
            "IMCBENCH_DATA_DIR": str(tmp_path),
            "STATIC_ROOT": str(tmp_path / "static-never-collected"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr) == [], result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout
    assert "security.W021" in (ROOT / "README.md").read_text(), "the README says which check is silenced and why"


def test_https_settings_are_secure_by_default_when_debug_is_off():
    code = (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    assert load_settings(code=code, **PRODUCTION).stdout.split()[-6:] == [
        "True", "31536000", "True", "True", "True", "None"
    ]  # fmt: skip
    chosen = load_settings(
        code=code, **PRODUCTION, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="60",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )  # fmt: skip
    assert chosen.stdout.strip().endswith("False 60 True True True ('HTTP_X_FORWARDED_PROTO', 'https')")
    debug = load_settings(code=code)
    assert debug.stdout.split()[-6:] == ["False", "0", "False", "False", "False", "None"]


def test_the_favicon_redirects_to_its_static_url(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == "/static/favicon.svg"
