"""The real services of a deployment: PostgreSQL behind DATABASE_URL and Redis behind CELERY_BROKER_URL.

Locally, without those variables, these tests skip. In CI (IMCBENCH_REQUIRE_SERVICES=1) they must run, and a
missing service fails them.
"""

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import missing

pytestmark = pytest.mark.services


@pytest.mark.django_db
def test_the_database_is_postgresql():
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 13


def test_a_task_travels_through_the_redis_broker_to_a_worker():
    if not settings.CELERY_BROKER_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        missing("Redis via CELERY_BROKER_URL")
    from celery.contrib.testing.worker import start_worker

    from annotation.tasks import ping
    from imcbench_site.celery import app

    app.conf.task_always_eager = False
    app.conf.result_backend = settings.CELERY_BROKER_URL
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            assert ping.delay(21).get(timeout=20) == {"pong": 42}
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
        app.conf.result_backend = settings.CELERY_RESULT_BACKEND


@pytest.mark.django_db
def test_readyz_reports_the_real_broker(client):
    if not settings.CELERY_BROKER_URL:
        missing("Redis via CELERY_BROKER_URL")
    body = client.get("/readyz").json()
    assert body["broker"] == {"ok": True, "mode": "broker", "transport": body["broker"]["transport"]}
    assert body["database"]["vendor"] == connection.vendor
