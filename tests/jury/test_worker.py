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

import pytest

from annotation.services import ensure_roles_and_default_rubric
from engine.models import CacheEntry
from jury import services
from jury.models import Judge, Judgement, JudgePrompt, JuryRun, WorkItem
from testkit.loopback import FakeProvider
from testkit.processes import stop_group
from tests.factories import ConversationFactory
from tests.workers import (
    broker_url,
    database_url,
    kill_with_calls_in_flight,
    start_worker,
    wait_for,
    wait_for_the_run_to_end,
)

pytestmark = pytest.mark.services


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_run_loses_nothing_and_repeats_no_call(tmp_path, worker_services):
    ensure_roles_and_default_rubric()
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
            stop_group(worker, grace=15)

        run.refresh_from_db()
        assert run.status == JuryRun.Status.COMPLETED, log.read_text()[-3000:]
        assert run.items.filter(status=WorkItem.Status.DONE).count() == total
        assert Judgement.objects.filter(run=run).count() == total
        assert Judgement.objects.filter(status=Judgement.Status.SCORED).count() == total
        # One answered call per item: the kill repeated none, and nothing was judged twice.
        assert len(fake.served) == total and set(fake.served.values()) == {1}
        assert sum(run.items.values_list("provider_calls", flat=True)) >= total
