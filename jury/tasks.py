"""Celery tasks of the jury: thin wrappers over :mod:`jury.runner`.

``dispatch_run`` fans a run out into ``JURY_PARALLEL_CHUNKS`` chunk tasks; each ``work_chunk`` claims up to
``JURY_CHUNK_SIZE`` items, then hands on to a fresh chunk task while work remains. When a worker starts it resumes
every running run, so killing a worker and starting it again completes the run (items it held are reclaimed when
their lease expires, and replies it had received come from the cache).

:func:`start_chunks`, :func:`work_one_chunk` and :func:`dispatch_running` do this for any run of leased items
(:mod:`jury.run_base`); the tasks of conversation generation (:mod:`generation.tasks`) use them too.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from jury import runner
from jury.models import JuryRun, WorkItem
from jury.run_base import RunStatus

log = logging.getLogger(__name__)


def celery_is_eager() -> bool:
    """True when tasks run in the calling process (no broker): one chunk task then does all the work."""
    from imcbench_site.celery import app

    return bool(app.conf.task_always_eager)


def start_chunks(chunk_task, *, model, run_id: int, chunk_size: int, parallel_chunks: int) -> int:
    """Queue ``chunk_task`` for a run: once per ``chunk_size`` pending items, at most ``parallel_chunks`` times."""
    pending = model.objects.filter(run_id=run_id, status=model.Status.PENDING).count()
    chunks = 1 if celery_is_eager() else max(1, min(parallel_chunks, -(-pending // chunk_size)))
    for _ in range(chunks):
        chunk_task.delay(run_id)
    return chunks


def work_one_chunk(chunk_task, *, work, model, run_id: int, chunk_size: int) -> dict:
    """Work through up to ``chunk_size`` items of a run with ``work`` (all of them when eager), then finish the run
    or pass the baton to a fresh ``chunk_task``. Returns what the chunk did."""
    eager = celery_is_eager()
    stats = work(run_id=run_id, max_items=None if eager else chunk_size)
    summary = {"done": stats.done, "failed": stats.failed, "cached": stats.cached, "calls": stats.provider_calls}
    if stats.stopped:
        return {**summary, "stopped": stats.stopped}
    if runner.finish_if_done(model=model, run_id=run_id):
        return {**summary, "finished": True}
    if not eager:
        if model.objects.filter(run_id=run_id, status=model.Status.PENDING).exists():
            chunk_task.delay(run_id)
        else:  # items leased by another worker, alive or dead: look again when the first lease runs out
            expiry = runner.next_lease_expiry(model=model, run_id=run_id)
            delay = max(1.0, (expiry - timezone.now()).total_seconds() + 0.5) if expiry else 1.0
            chunk_task.apply_async((run_id,), countdown=delay)
    return summary


def dispatch_running(dispatch_task, *, run_model) -> list[int]:
    """Queue ``dispatch_task`` for every running run of ``run_model`` (after a worker restart); returns their ids."""
    ids = list(run_model.objects.filter(status=RunStatus.RUNNING).values_list("id", flat=True))
    for run_id in ids:
        dispatch_task.delay(run_id)
    return ids


def queue_on_worker_start(task, *, what: str) -> None:
    """Queue ``task`` as a worker starts; a broker hiccup is logged, for a worker must start anyway."""
    try:
        task.delay()
    except Exception:  # noqa: BLE001
        log.exception("could not resume %s", what)


@shared_task
def dispatch_run(run_id: int) -> int:
    """Start chunk tasks for a running run; returns how many."""
    return start_chunks(
        work_chunk,
        model=WorkItem,
        run_id=run_id,
        chunk_size=settings.JURY_CHUNK_SIZE,
        parallel_chunks=settings.JURY_PARALLEL_CHUNKS,
    )


@shared_task(acks_late=True)
def work_chunk(run_id: int) -> dict:
    """Claim and process up to one chunk of items, then pass the baton or finish the run."""
    return work_one_chunk(
        work_chunk, work=runner.work, model=WorkItem, run_id=run_id, chunk_size=settings.JURY_CHUNK_SIZE
    )


@shared_task
def estimate_run(run_id: int) -> dict:
    """The dry run of :func:`jury.services.estimate_run`, off the request; a failure is stored on the run."""
    from jury import services

    run = JuryRun.objects.get(pk=run_id)
    try:
        return services.estimate_run(run=run)
    except Exception as error:  # noqa: BLE001 — the run page must say why there is no estimate
        log.exception("jury: estimating run %s failed", run_id)
        failed = {"failed": True, "error": f"{type(error).__name__}: {error}", "at": timezone.now().isoformat()}
        JuryRun.objects.filter(pk=run_id).update(estimate=failed)
        return failed


@shared_task
def resume_runs() -> list[int]:
    """Dispatch every running run again (after a worker restart)."""
    return dispatch_running(dispatch_run, run_model=JuryRun)


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs) -> None:
    queue_on_worker_start(resume_runs, what="jury runs")
