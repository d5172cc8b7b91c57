"""`manage.py check --deploy` with the environment docs/deployment.md tells a deployment to set: no issue."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEPT = ("PATH", "HOME", "LANG", "VIRTUAL_ENV")


def documented_environment(section: str) -> dict[str, str]:
    """The NAME=value lines of the first shell block of a section of the deployment page, comments dropped."""
    page = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(rf"## {re.escape(section)}\n.*?```bash\n(.*?)```", page, re.S).group(1)
    pairs = (line.split("#")[0].strip().partition("=") for line in block.splitlines() if "=" in line)
    return {name: value for name, _, value in pairs}


@pytest.mark.parametrize("single_sign_on", [False, True], ids=["local accounts", "single sign-on"])
def test_the_documented_production_settings_pass_check_deploy(tmp_path, single_sign_on):
    env = documented_environment("Environment")
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "METRICS_TOKEN"} <= set(env)
    placeholders = {name for name, value in env.items() if "..." in value}
    assert placeholders == {"SECRET_KEY", "DATABASE_URL", "ANTHROPIC_API_KEY", "METRICS_TOKEN"}
    env |= {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "ANTHROPIC_API_KEY": "sk-ant-check",
        "DATABASE_URL": env["DATABASE_URL"].replace("...", "a-password"),  # check --deploy does not connect
        "MEDIA_ROOT": str(tmp_path / "media"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "IMCBENCH_DATA_DIR": str(tmp_path / "data"),
    }
    if single_sign_on:
        sso = documented_environment("Single sign-on (OpenID Connect)")
        assert {name for name, value in sso.items() if "..." in value} == {"OIDC_RP_CLIENT_SECRET"}
        env |= sso | {"OIDC_RP_CLIENT_SECRET": secrets.token_urlsafe(24)}
    code = (
        "from django.core.management import call_command; from django.conf import settings; "
        "call_command('check', deploy=True, fail_level='WARNING'); print('single sign-on:', settings.OIDC_ENABLED)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name in KEPT} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout
    assert f"single sign-on: {single_sign_on}" in result.stdout
