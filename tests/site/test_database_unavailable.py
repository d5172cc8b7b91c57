"""A read-only or unreachable database: a plain 503 on every page that needs it, /readyz says why, and the
development server still starts."""

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from annotation import services
from annotation.models import Rubric
from tests.conftest import PASSWORD
from tests.factories import ConversationFactory
from tests.site.test_settings import ROOT, clean_environment

pytestmark = pytest.mark.django_db
WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


@pytest.fixture
def make_read_only(monkeypatch):
    """Call it to make SQLite refuse every write from then on, as it does when its file is read-only."""
    if connection.vendor != "sqlite":
        pytest.skip("simulates SQLite's read-only error")
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    def refusing(method):
        def wrapper(self, query, *args, **kwargs):
            if query.lstrip().split(None, 1)[0].upper() in WRITES:
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return method(self, query, *args, **kwargs)

        return wrapper

    def apply():
        monkeypatch.setattr(SQLiteCursorWrapper, "execute", refusing(SQLiteCursorWrapper.execute))
        monkeypatch.setattr(SQLiteCursorWrapper, "executemany", refusing(SQLiteCursorWrapper.executemany))

    return apply


def assert_plain_503(response):
    body = response.content.decode()
    assert response.status_code == 503, body[:500]
    assert response["Content-Type"].startswith("text/plain")
    assert "read-only or unavailable" in body and "Traceback" not in body
    assert response["Retry-After"] and response["Cache-Control"] == "private, no-store"


def test_a_write_answers_a_plain_503_and_reads_still_work(client, carmen, make_read_only):
    services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory()],
        clinicians=[carmen],
        overlap=1,
    )
    client.force_login(carmen)
    make_read_only()
    assert client.get("/work/").status_code == 200
    assert_plain_503(client.post("/work/pilot/next/"))
    assert client.get("/work/pilot/next/").status_code == 200


def test_login_answers_a_plain_503(client, ada, make_read_only):
    make_read_only()
    assert client.get("/login/").status_code == 200
    assert_plain_503(client.post("/login/", {"username": "ada", "password": PASSWORD}))
    assert_plain_503(client.post("/admin/login/", {"username": "ada", "password": PASSWORD}))


def test_the_session_save_after_the_view_answers_a_plain_503(client, rex, settings, make_read_only):
    settings.SESSION_SAVE_EVERY_REQUEST = True
    client.force_login(rex)
    make_read_only()
    assert_plain_503(client.get("/cases/"))


def test_readyz_says_the_database_is_read_only(client, make_read_only):
    make_read_only()
    response = client.get("/readyz")
    assert response.status_code == 503
    database = response.json()["database"]
    assert database["ok"] is False and database["writable"] is False
    assert "readonly" in database["error"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_development_server_starts_when_the_database_cannot_be_opened(tmp_path):
    unopenable = tmp_path / "db.sqlite3"
    unopenable.mkdir()  # a directory where the database file should be: SQLite cannot open it
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**clean_environment(), "DATABASE_URL": f"sqlite:///{unopenable}", "IMCBENCH_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2)
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert status == 503 and "unable to open database file" in body
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "The database is unavailable (unable to open database file)" in output
    assert "Traceback" not in output
