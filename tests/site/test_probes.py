"""Liveness, readiness (database, broker, workers) and the Prometheus scrape behind its token."""

import os
import sys

import pytest
import redis

from imcbench_site import metrics
from testkit.processes import start_group, stop_group
from tests.factories import pilot_campaign
from tests.workers import ROOT, broker_url, database_url, wait_for

TOKEN = "a-scrape-token-of-some-length"


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")  # no django_db mark: a query would raise
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_with_eager_tasks(client, settings):
    settings.CELERY_BROKER_URL = None
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["failing"] == []
    assert body["database"]["ok"] and body["broker"]["ok"] and body["workers"]["ok"]


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker", "workers"]


@pytest.mark.django_db(transaction=True)
def test_readyz_waits_for_a_worker_and_names_queues_nobody_takes(client, tmp_path, worker_services):
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failing"] == ["workers"]
    assert "no Celery worker answered a ping within 1 s" in response.json()["workers"]["error"]

    # On the site's own broker, taking a queue no task goes to: the worker runs nothing another test left queued.
    env = {**os.environ, "DATABASE_URL": database_url(), "IMCBENCH_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "celery", "-A", "imcbench_site", "worker", "--pool", "solo"]
    with (tmp_path / "worker.log").open("wb") as log:
        worker = start_group(
            [*command, "--without-gossip", "--without-mingle", "-Q", "readiness-test", "-n", "readiness@%h"],
            cwd=ROOT,
            env=env,
            stdout=log,
        )
        try:
            body = wait_for(
                lambda: (answer := client.get("/readyz")).status_code == 200 and answer.json(),
                timeout=60,
                what=f"readiness (worker log: {tmp_path / 'worker.log'})",
            )
        finally:
            stop_group(worker, grace=15)
    assert [name.split("@")[0] for name in body["workers"]["workers"]] == ["readiness"]
    assert body["workers"]["queues_without_worker"] == metrics.routed_queues()


def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(client, settings):
    settings.METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == 'Bearer realm="metrics"'


@pytest.mark.django_db
def test_metrics_count_requests_claims_autosaves_and_submissions(client, settings, carmen):
    settings.METRICS_TOKEN = TOKEN
    campaign = pilot_campaign(clinicians=[carmen])
    before = {
        "claims": metrics.CLAIMS.labels(outcome="new")._value.get(),
        "autosaves": metrics.AUTOSAVES._value.get(),
    }
    client.force_login(carmen)
    assignment_url = client.post(f"/work/{campaign.key}/next/").url
    client.post(assignment_url + "save/", {"rationale": "", "version": "0"}, headers={"HX-Request": "true"})
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    assert metrics.CLAIMS.labels(outcome="new")._value.get() == before["claims"] + 1
    assert metrics.AUTOSAVES._value.get() == before["autosaves"] + 1
    assert 'imcbench_claims_total{outcome="new"}' in text and "imcbench_autosaves_total" in text
    assert 'imcbench_request_seconds_bucket{le="0.15",method="POST",view="claim"}' in text
    assert 'imcbench_responses_total{method="POST",status="302",view="claim"}' in text


def test_queue_depth_is_read_from_the_broker_at_scrape_time(settings, worker_services):
    settings.CELERY_BROKER_URL = broker_url()
    client = redis.Redis.from_url(broker_url())
    client.rpush("jury", b"{}", b"{}")
    client.rpush("exports\x06\x163", b"{}")  # a message of priority 3
    try:
        text = metrics.exposition().decode()
    finally:
        client.delete("jury", "exports\x06\x163")
    assert 'imcbench_queue_depth{queue="jury"} 2.0' in text
    assert 'imcbench_queue_depth{queue="exports"} 1.0' in text
    assert 'imcbench_queue_depth{queue="celery"} 0.0' in text and "imcbench_broker_up 1.0" in text


def test_queue_depth_says_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    text = metrics.exposition().decode()
    assert "imcbench_broker_up 0.0" in text and "imcbench_queue_depth{" not in text
