"""The production web server starts from gunicorn.conf.py and serves the site with DEBUG off."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from testkit.processes import start_group, stop_group
from tests.workers import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")
START_SECONDS = 60


def production_environment(tmp_path: Path, port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_", "CELERY_"))}
    keep.pop("DATABASE_URL", None)
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "imcbench_site.settings",
        "DEBUG": "0",
        "SECRET_KEY": "test-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "IMCBENCH_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
    }


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 — a URL the test built
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}")
        try:
            get(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer {url} within {START_SECONDS}s")


@pytest.fixture
def production_site(tmp_path):
    port = free_port()
    env = production_environment(tmp_path, port)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=240
        )
    log = (tmp_path / "gunicorn.log").open("w+")
    server = start_group([str(GUNICORN), "imcbench_site.wsgi", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop_group(server)
        log.close()


def test_gunicorn_serves_the_probes_and_login_with_debug_off(production_site):
    base, log = production_site
    status, body = get(base + "/healthz")
    assert status == 200, body
    status, body = get(base + "/readyz")
    assert status == 200 and '"database"' in body, body
    status, body = get(base + "/login/")
    assert status == 200, body
    assert "csrfmiddlewaretoken" in body
    log.flush()
    log.seek(0)
    assert '"GET /healthz HTTP/1.1" 200' in log.read()  # the access log format from gunicorn.conf.py


def test_gunicorn_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9001,unix:/tmp/imcbench.sock")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "45")
    config: dict = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)  # noqa: S102
    assert config["bind"] == ["127.0.0.1:9001", "unix:/tmp/imcbench.sock"]
    assert (config["workers"], config["threads"], config["timeout"]) == (3, 4, 45)


def test_gunicorn_config_refuses_a_bad_number(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("WEB_CONCURRENCY", "many")
    with pytest.raises(ImproperlyConfigured, match="WEB_CONCURRENCY"):
        exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), {"__file__": "x"})  # noqa: S102
