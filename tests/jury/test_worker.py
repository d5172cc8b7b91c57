"""A real Celery worker on the real Redis broker and PostgreSQL, killed mid-run and started again.

The worker is a separate process judging through the real OpenAI SDK client against a loopback fake provider.
Mid-run the fake stops answering (requests already received included) and, once every reply it did send is in
the cache, the test kills the worker with SIGKILL; the parked calls are then dropped, as a dead connection would
be. A second worker resumes the run (on start it re-dispatches running runs; the dead worker's leases expire
after 3 s). Every item must end done exactly once, with one judgement each, and the fake must have answered
exactly one call per item.

Locally, without DATABASE_URL and CELERY_BROKER_URL, this skips; in CI (IMCBENCH_REQUIRE_SERVICES=1) it must run.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from engine.models import CacheEntry
from jury import services
from jury.models import Judge, Judgement, JudgePrompt, JuryRun, WorkItem
from testkit.loopback import FakeProvider
from tests.conftest import missing
from tests.factories import ConversationFactory
from tests.jury.test_runs import ensure_default_rubric

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
BROKER_DB = 13  # a Redis database of its own, so no other worker picks up these tasks


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def broker_url() -> str:
    parts = urlsplit(settings.CELERY_BROKER_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROKER_DB}", "", ""))


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "imcbench_site",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "-n",
            "jury-kill@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def kill_with_calls_in_flight(worker: subprocess.Popen, fake: FakeProvider, *, all_stored) -> tuple[int, dict]:
    """Stop the fake answering, wait for calls in flight and for every answer it sent to be stored
    (``all_stored()``), SIGKILL the worker and drop its calls, as dead connections would be.
    Returns how many calls were in flight and the requests answered before the kill (by body)."""
    fake.hold()  # nothing more is answered, requests already received included
    time.sleep(0.2)  # a reply being written at this moment reaches the worker
    wait_for(
        lambda: fake.calls > sum(fake.served.values()),
        timeout=10,
        what=f"calls in flight ({fake.calls} received, {sum(fake.served.values())} answered)",
    )
    wait_for(all_stored, timeout=10, what="every answered call to be stored")
    stop(worker, signal.SIGKILL)
    in_flight = fake.calls - sum(fake.served.values())
    answered = dict(fake.served_distinct)
    fake.release(drop=True)
    return in_flight, answered


def wait_for_the_run_to_end(run_model, run_id: int, log: Path, *, timeout: float) -> None:
    wait_for(
        lambda: run_model.objects.get(pk=run_id).status != run_model.Status.RUNNING,
        timeout=timeout,
        interval=0.25,
        what=f"the run to finish (worker log: {log.read_text()[-3000:]})",
    )


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_run_loses_nothing_and_repeats_no_call(tmp_path):
    if connection.vendor != "postgresql":
        missing("PostgreSQL via DATABASE_URL")
    if not settings.CELERY_BROKER_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        missing("Redis via CELERY_BROKER_URL")
    import redis

    redis.Redis.from_url(broker_url()).flushdb()

    ensure_default_rubric()
    services.sync_prompts()
    judge = Judge.objects.create(key="kill-openai", provider="openai", model_id="fake-judge", accepts_images=False)
    for index in range(20):  # distinct transcripts: identical requests would (rightly) share one cached reply
        ConversationFactory(turns=[f"Patient {index}: a spot on my arm has changed.", f"Answer {index}: see a GP."])
    prompts = list(JudgePrompt.objects.filter(dimension="safety"))
    run = services.create_run(name="kill test", judges=[judge], prompts=prompts)
    total = run.items.count()
    assert total == 60

    log = tmp_path / "worker.log"
    with FakeProvider(latency=0.5) as fake:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url(),
            "OPENAI_API_KEY": "sk-kill-test",
            "OPENAI_BASE_URL": f"{fake.url}/v1",
            "JURY_OPENAI_CONCURRENCY": "3",
            "JURY_OPENAI_RPM": "0",
            "JURY_LEASE_SECONDS": "3",
            "JURY_LIMITER_LEASE_SECONDS": "3",
            "JURY_CHUNK_SIZE": "10",
            "JURY_PARALLEL_CHUNKS": "2",
            "JURY_BACKOFF_BASE_SECONDS": "0.1",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "IMCBENCH_DATA_DIR": str(tmp_path),
        }
        # Launched as launch_run does it; the worker picks the run up when it starts (worker_ready → resume).
        JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.RUNNING)
        worker = start_worker(env, log)
        try:
            wait_for(lambda: sum(fake.served.values()) >= total // 3, timeout=60, what="a third of the calls")
            in_flight, _ = kill_with_calls_in_flight(
                worker, fake, all_stored=lambda: CacheEntry.objects.count() == sum(fake.served.values())
            )
            done_at_kill = run.items.filter(status=WorkItem.Status.DONE).count()
            assert 0 < done_at_kill < total
            assert in_flight > 0

            worker = start_worker(env, log)
            wait_for_the_run_to_end(JuryRun, run.pk, log, timeout=90)
        finally:
            stop(worker)

        run.refresh_from_db()
        assert run.status == JuryRun.Status.COMPLETED, log.read_text()[-3000:]
        assert run.items.filter(status=WorkItem.Status.DONE).count() == total
        assert Judgement.objects.filter(run=run).count() == total
        assert Judgement.objects.filter(status=Judgement.Status.SCORED).count() == total
        # One answered call per item: the kill repeated none, and nothing was judged twice.
        assert len(fake.served) == total and set(fake.served.values()) == {1}
        assert sum(run.items.values_list("provider_calls", flat=True)) >= total
