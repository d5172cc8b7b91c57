"""Celery tasks of conversation generation: thin wrappers over :mod:`generation.runner`, on the jury's chunking.

``dispatch_run`` starts up to ``GENERATION_PARALLEL_CHUNKS`` chunk tasks; each ``generate_chunk`` works through up
to ``GENERATION_CHUNK_SIZE`` conversations, then hands on to a fresh task while work remains
(:func:`jury.tasks.work_one_chunk`). When a worker starts it resumes every running run: items a killed worker held
are reclaimed when their lease expires, and the turns it had finished come from the cache.
"""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from engine.tasks import dispatch_running, queue_on_worker_start, start_chunks, work_one_chunk
from generation import runner
from generation.models import GenerationItem, GenerationRun


@shared_task(name="generation.tasks.dispatch_run")
def dispatch_run(run_id: int) -> int:
    """Start chunk tasks for a running run; returns how many."""
    return start_chunks(
        generate_chunk,
        model=GenerationItem,
        run_id=run_id,
        chunk_size=settings.GENERATION_CHUNK_SIZE,
        parallel_chunks=settings.GENERATION_PARALLEL_CHUNKS,
    )


@shared_task(name="generation.tasks.generate_chunk", acks_late=True)
def generate_chunk(run_id: int) -> dict:
    """Generate up to one chunk of conversations, then pass the baton or finish the run."""
    return work_one_chunk(
        generate_chunk,
        work=runner.work,
        model=GenerationItem,
        run_id=run_id,
        chunk_size=settings.GENERATION_CHUNK_SIZE,
    )


@shared_task(name="generation.tasks.resume_runs")
def resume_runs() -> list[int]:
    """Dispatch every running generation run again (after a worker restart)."""
    return dispatch_running(dispatch_run, run_model=GenerationRun)


@worker_ready.connect
def _resume_on_worker_start(sender=None, **kwargs) -> None:
    queue_on_worker_start(resume_runs, what="generation runs")
