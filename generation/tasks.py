"""Celery tasks of conversation generation: thin wrappers over :mod:`generation.runner`, shaped like the jury's.

``dispatch_run`` starts up to ``GENERATION_PARALLEL_CHUNKS`` chunk tasks; each ``generate_chunk`` works through up
to ``GENERATION_CHUNK_SIZE`` conversations, then hands on to a fresh task while work remains. When a worker starts
it resumes every running run: items a killed worker held are reclaimed when their lease expires, and the turns it
had finished come from the cache.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from jury.tasks import _eager

from . import runner
from .models import GenerationItem, GenerationRun

log = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


@shared_task
def dispatch_run(run_id: int) -> int:
    """Start chunk tasks for a running run; returns how many."""
    pending = GenerationItem.objects.filter(run_id=run_id, status=GenerationItem.Status.PENDING).count()
    size = _setting("GENERATION_CHUNK_SIZE", 50)
    chunks = 1 if _eager() else max(1, min(_setting("GENERATION_PARALLEL_CHUNKS", 2), -(-pending // size)))
    for _ in range(chunks):
        generate_chunk.delay(run_id)
    return chunks


@shared_task(acks_late=True)
def generate_chunk(run_id: int) -> dict:
    """Generate up to one chunk of conversations, then pass the baton or finish the run."""
    eager = _eager()
    stats = runner.work(run_id=run_id, max_items=None if eager else _setting("GENERATION_CHUNK_SIZE", 50))
    summary = {"done": stats.done, "failed": stats.failed, "calls": stats.provider_calls, "cached": stats.cached_calls}
    if stats.stopped:
        return {**summary, "stopped": stats.stopped}
    if runner.finish_if_done(run_id=run_id):
        return {**summary, "finished": True}
    if not eager:
        if GenerationItem.objects.filter(run_id=run_id, status=GenerationItem.Status.PENDING).exists():
            generate_chunk.delay(run_id)
        else:  # items leased by another worker, alive or dead: look again when the first lease runs out
            expiry = runner.next_lease_expiry(run_id=run_id)
            delay = max(1.0, (expiry - timezone.now()).total_seconds() + 0.5) if expiry else 1.0
            generate_chunk.apply_async((run_id,), countdown=delay)
    return summary


@shared_task
def resume_runs() -> list[int]:
    """Dispatch every running generation run again (after a worker restart)."""
    ids = list(GenerationRun.objects.filter(status=GenerationRun.Status.RUNNING).values_list("id", flat=True))
    for run_id in ids:
        dispatch_run.delay(run_id)
    return ids


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs) -> None:
    try:
        resume_runs.delay()
    except Exception:  # noqa: BLE001 — a worker must start even if the broker hiccups
        log.exception("could not resume generation runs")
