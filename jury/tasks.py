"""Celery tasks of the jury: thin wrappers over :mod:`jury.runner`.

``dispatch_run`` fans a run out into ``JURY_PARALLEL_CHUNKS`` chunk tasks; each ``work_chunk`` claims up to
``JURY_CHUNK_SIZE`` items, then hands on to a fresh chunk task while work remains. When a worker starts it resumes
every running run, so killing a worker and starting it again completes the run (items it held are reclaimed when
their lease expires, and replies it had received come from the cache).
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from . import runner
from .models import JuryRun, WorkItem

log = logging.getLogger(__name__)


def _eager() -> bool:
    from imcbench_site.celery import app

    return bool(app.conf.task_always_eager)


@shared_task
def dispatch_run(run_id: int) -> int:
    """Start chunk tasks for a running run; returns how many."""
    pending = WorkItem.objects.filter(run_id=run_id, status=WorkItem.Status.PENDING).count()
    chunks = 1 if _eager() else max(1, min(settings.JURY_PARALLEL_CHUNKS, -(-pending // settings.JURY_CHUNK_SIZE)))
    for _ in range(chunks):
        work_chunk.delay(run_id)
    return chunks


@shared_task(acks_late=True)
def work_chunk(run_id: int) -> dict:
    """Claim and process up to one chunk of items, then pass the baton or finish the run."""
    eager = _eager()
    stats = runner.work(run_id=run_id, max_items=None if eager else settings.JURY_CHUNK_SIZE)
    if stats.stopped:
        return {"stopped": stats.stopped}
    if runner.finish_if_done(run_id=run_id):
        return {"done": stats.done, "failed": stats.failed, "finished": True}
    if not eager:
        if WorkItem.objects.filter(run_id=run_id, status=WorkItem.Status.PENDING).exists():
            work_chunk.delay(run_id)
        else:  # items leased by another worker, alive or dead: look again when the first lease runs out
            expiry = runner.next_lease_expiry(run_id=run_id)
            delay = max(1.0, (expiry - timezone.now()).total_seconds() + 0.5) if expiry else 1.0
            work_chunk.apply_async((run_id,), countdown=delay)
    return {"done": stats.done, "failed": stats.failed, "cached": stats.cached, "calls": stats.provider_calls}


@shared_task
def estimate_run(run_id: int) -> dict:
    """The dry run of :func:`jury.services.estimate_run`, off the request; a failure is stored on the run."""
    from . import services

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
    ids = list(JuryRun.objects.filter(status=JuryRun.Status.RUNNING).values_list("id", flat=True))
    for run_id in ids:
        dispatch_run.delay(run_id)
    return ids


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs) -> None:
    try:
        resume_runs.delay()
    except Exception:  # noqa: BLE001 — a worker must start even if the broker hiccups
        log.exception("could not resume jury runs")


from .export_tasks import run_export_job  # noqa: E402,F401 — Celery discovers only tasks.py
