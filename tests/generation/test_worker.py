"""A generation run on a real Celery worker (real Redis broker, PostgreSQL), killed mid-run and started again.

The patient simulator talks through the real OpenAI SDK client and the model under test through the real Anthropic
client, both to the loopback fake. Mid-run the fake stops answering, the test waits until every reply it did send
is in the cache and kills the worker with SIGKILL; the calls it had in flight are dropped. A second worker resumes
the run: every conversation must end complete, and no request the fake answered before the kill may be answered
again after it — finished turns are replayed from the cache, not asked again.

Locally, without DATABASE_URL and CELERY_BROKER_URL, this skips; in CI (IMCBENCH_REQUIRE_SERVICES=1) it must run.
"""

import os

import pytest
from django.conf import settings

from engine.models import CacheEntry
from generation import services
from generation.models import GenerationItem, GenerationRun
from testkit.loopback import FakeProvider
from testkit.processes import stop_group
from tests.factories import make_case, make_model
from tests.runs import scripted
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
def test_killing_the_generation_worker_mid_run_repeats_no_answered_call(tmp_path, worker_services):
    for index in range(4):
        make_case(f"case-{index:04d}", color=(200, 80 + 20 * index, 60))
    model = make_model("claude-under-test", provider="anthropic", model_id="claude-test-model", max_tokens=300)
    run = services.create_run(
        name="kill test",
        models=[model],
        patient_provider="openai",
        patient_model_id="gpt-patient",
        patient_parameters={"max_tokens": 200},
        max_turns=3,
        seed=5,
    )
    total = run.items.count()
    assert total == 4 * 3  # cases × conditions

    log = tmp_path / "worker.log"
    with FakeProvider(latency=0.3, responder=scripted(patient_ends=False)) as fake:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url(),
            "OPENAI_API_KEY": "sk-kill-test",
            "OPENAI_BASE_URL": f"{fake.url}/v1",
            "ANTHROPIC_API_KEY": "sk-ant-kill-test",
            "ANTHROPIC_BASE_URL": fake.url,
            "JURY_OPENAI_CONCURRENCY": "3",
            "JURY_ANTHROPIC_CONCURRENCY": "3",
            "JURY_OPENAI_RPM": "0",
            "JURY_ANTHROPIC_RPM": "0",
            "JURY_LIMITER_LEASE_SECONDS": "3",
            "GENERATION_LEASE_SECONDS": "3",
            "GENERATION_CHUNK_SIZE": "4",
            "JURY_BACKOFF_BASE_SECONDS": "0.1",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # the cases' images
            "IMCBENCH_DATA_DIR": str(tmp_path),
        }
        # Launched as launch_run does it; the worker picks the run up when it starts (worker_ready → resume).
        GenerationRun.objects.filter(pk=run.pk).update(status=GenerationRun.Status.RUNNING)
        worker = start_worker(env, log)
        try:
            wait_for(lambda: sum(fake.served.values()) >= 8, timeout=60, what="the first replies")
            _, answered_before_kill = kill_with_calls_in_flight(
                worker, fake, all_stored=lambda: CacheEntry.objects.count() == len(fake.served_distinct)
            )
            done_at_kill = run.items.filter(status=GenerationItem.Status.DONE).count()
            assert done_at_kill < total

            worker = start_worker(env, log)
            wait_for_the_run_to_end(GenerationRun, run.pk, log, timeout=120)
        finally:
            stop_group(worker, grace=15)

        run.refresh_from_db()
        assert run.status == GenerationRun.Status.COMPLETED, log.read_text()[-3000:]
        items = list(run.items.select_related("conversation"))
        assert all(item.status == GenerationItem.Status.DONE and item.conversation for item in items)
        assert all(item.conversation.turns.count() == 2 * 3 for item in items)  # 3 exchanges, none ended early
        # No request answered before the kill was sent again after it: finished turns came from the cache.
        assert answered_before_kill
        assert {body: fake.served_distinct[body] for body in answered_before_kill} == answered_before_kill
        assert CacheEntry.objects.count() == len(fake.served_distinct)
