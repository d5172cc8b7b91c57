"""Chunk tasks for any run of leased items (:mod:`engine.models`), shared by the jury and generation tasks.

A dispatch task fans a run out into chunk tasks; each chunk claims up to a chunk of items, then hands on to a
fresh chunk task while work remains. When a worker starts it resumes every running run, so killing a worker and
starting it again completes the run (items it held are reclaimed when their lease expires, and replies it had
received come from the cache).
"""

import logging

from celery import current_app
from django.utils import timezone

from engine import leasing
from engine.models import RunStatus

log = logging.getLogger(__name__)


def celery_is_eager() -> bool:
    """True when tasks run in the calling process (no broker): one chunk task then does all the work."""
    return bool(current_app.conf.task_always_eager)


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
    if leasing.finish_if_done(model=model, run_id=run_id):
        return {**summary, "finished": True}
    if not eager:
        if model.objects.filter(run_id=run_id, status=model.Status.PENDING).exists():
            chunk_task.delay(run_id)
        else:  # items leased by another worker, alive or dead: look again when the first lease runs out
            expiry = leasing.next_lease_expiry(model=model, run_id=run_id)
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
