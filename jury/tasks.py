"""Celery tasks of the jury: thin wrappers over :mod:`jury.runner`.

``dispatch_run`` fans a run out into ``JURY_PARALLEL_CHUNKS`` chunk tasks; each ``work_chunk`` claims up to
``JURY_CHUNK_SIZE`` items, then hands on to a fresh chunk task while work remains. When a worker starts it resumes
every running run, so killing a worker and starting it again completes the run (items it held are reclaimed when
their lease expires, and replies it had received come from the cache).

The chunking itself is :mod:`engine.tasks`, shared with conversation generation.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from engine.tasks import dispatch_running, queue_on_worker_start, start_chunks, work_one_chunk
from jury import estimates, runner
from jury.models import JuryRun, WorkItem

log = logging.getLogger(__name__)


@shared_task(name="jury.tasks.dispatch_run")
def dispatch_run(run_id: int) -> int:
    """Start chunk tasks for a running run; returns how many."""
    return start_chunks(
        work_chunk,
        model=WorkItem,
        run_id=run_id,
        chunk_size=settings.JURY_CHUNK_SIZE,
        parallel_chunks=settings.JURY_PARALLEL_CHUNKS,
    )


@shared_task(name="jury.tasks.work_chunk", acks_late=True)
def work_chunk(run_id: int) -> dict:
    """Claim and process up to one chunk of items, then pass the baton or finish the run."""
    return work_one_chunk(
        work_chunk, work=runner.work, model=WorkItem, run_id=run_id, chunk_size=settings.JURY_CHUNK_SIZE
    )


@shared_task(name="jury.tasks.estimate_run")
def estimate_run(run_id: int) -> dict:
    """The dry run of :func:`jury.estimates.estimate_run`, off the request; a failure is stored on the run."""
    run = JuryRun.objects.get(pk=run_id)
    try:
        return estimates.estimate_run(run=run)
    except Exception as error:  # noqa: BLE001 — the run page must say why there is no estimate
        log.exception("jury: estimating run %s failed", run_id)
        failed = {"failed": True, "error": f"{type(error).__name__}: {error}", "at": timezone.now().isoformat()}
        JuryRun.objects.filter(pk=run_id).update(estimate=failed)
        return failed


@shared_task(name="jury.tasks.resume_runs")
def resume_runs() -> list[int]:
    """Dispatch every running run again (after a worker restart)."""
    return dispatch_running(dispatch_run, run_model=JuryRun)


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs) -> None:
    queue_on_worker_start(resume_runs, what="jury runs")
