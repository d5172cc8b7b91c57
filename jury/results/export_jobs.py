"""Background exports: queue an :class:`~jury.models.ExportJob` and write its file in a Celery task.

The file goes to ``MEDIA_ROOT/exports/`` under a new name holding the job id and a random part (never an
existing file, never guessable): it is written as ``<name>.part`` and linked to its final name only when
complete. Progress (rows written) is saved every ``PROGRESS_EVERY`` rows. Without a broker Celery runs eagerly
and the job completes within the request that started it.
"""

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotation.models import AuditEvent, Campaign
from jury.models import ExportJob
from jury.results import exports

log = logging.getLogger(__name__)

PROGRESS_EVERY = 5000
STALE_AFTER = timedelta(minutes=10)  # a running job with no progress for this long is taken over


def start_export_job(*, kind: str, fmt: str, campaign_key: str | None, user) -> ExportJob:
    """Queue an export; the task starts once the transaction commits. Raises ValueError for a bad request."""
    if kind not in ExportJob.Kind.values:
        raise exports.ExportNotFound(f"No export {kind!r}; choose one of {', '.join(ExportJob.Kind.values)}")
    if fmt not in ExportJob.Format.values:
        raise exports.ExportNotFound(f"No format {fmt!r}; choose one of {', '.join(ExportJob.Format.values)}")
    if campaign_key and not Campaign.objects.filter(key=campaign_key).exists():
        raise exports.ExportNotFound(f"No campaign {campaign_key!r}")
    if kind == ExportJob.Kind.SCORES and not campaign_key:
        raise ValueError("calibrated scores need a campaign: the one whose clinicians calibrate the jury")
    filters = {"campaign": campaign_key} if campaign_key else {}
    with transaction.atomic():
        job = ExportJob.objects.create(kind=kind, format=fmt, filters=filters, created_by=user)
        AuditEvent.objects.create(
            actor=user,
            action="start_export",
            target=f"export {job.pk}",
            details={"kind": kind, "format": fmt, **filters},
        )
        transaction.on_commit(lambda: run_export_job.delay(job.pk))
    return job


def _claim(job_id: int) -> bool:
    """Mark a queued (or stale running) job running; False when another worker has it or it is finished."""
    now = timezone.now()
    return bool(
        ExportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ExportJob.Status.QUEUED) | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE_AFTER)
        )
        .update(status=ExportJob.Status.RUNNING, started_at=now, updated_at=now, rows_written=0, error="")
    )


def _save_progress(job_id: int, rows: int) -> None:
    ExportJob.objects.filter(pk=job_id).update(rows_written=rows, updated_at=timezone.now())


@shared_task(name="jury.export_tasks.run_export_job", acks_late=True)  # the name it was queued under before the move
def run_export_job(job_id: int, progress_every: int = PROGRESS_EVERY) -> dict:
    """Write one export job's file; returns its status, rows and size. A finished job is left untouched."""
    if not _claim(job_id):
        job = ExportJob.objects.filter(pk=job_id).first()
        return {"job": job_id, "skipped": job.status if job else "missing"}
    job = ExportJob.objects.get(pk=job_id)
    name = f"exports/{job.kind}-{job.pk}-{secrets.token_hex(16)}.{job.format}"
    final = Path(settings.MEDIA_ROOT) / name
    partial = final.with_name(final.name + ".part")
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        source = exports.export_source(kind=job.kind, campaign_key=job.filters.get("campaign"))
        ExportJob.objects.filter(pk=job.pk).update(
            rows_total=source.total, provenance=source.meta, updated_at=timezone.now()
        )
        rows, size, sha256 = exports.write_file(
            fmt=job.format,
            source=source,
            path=partial,
            on_rows=lambda count: _save_progress(job.pk, count),
            every=progress_every,
        )
        os.link(partial, final)  # fails rather than replace an existing file
        partial.unlink()
    except Exception as error:  # noqa: BLE001 — any failure is the job's outcome, shown to its owner
        partial.unlink(missing_ok=True)
        log.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(error) or type(error).__name__, finished_at=timezone.now()
        )
        return {"job": job.pk, "status": ExportJob.Status.FAILED, "error": str(error)}
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        file=name,
        rows_written=rows,
        size=size,
        sha256=sha256,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return {"job": job.pk, "status": ExportJob.Status.DONE, "rows": rows, "size": size}


def delete_old_exports(*, older_than: timedelta, now=None) -> dict:
    """Delete finished export jobs older than ``older_than`` with their files, and any file under ``exports/``
    that no job names (a crashed worker's ``.part``, a job deleted by hand) once it is as old. Returns counts."""
    now = now or timezone.now()
    cutoff = now - older_than
    old = ExportJob.objects.filter(
        status__in=(ExportJob.Status.DONE, ExportJob.Status.FAILED), finished_at__lt=cutoff
    ).order_by()
    jobs = 0
    for job in old.iterator():
        if job.file:
            job.file.storage.delete(job.file.name)
        job.delete()
        jobs += 1
    folder = Path(settings.MEDIA_ROOT) / "exports"
    named = {Path(name).name for name in ExportJob.objects.exclude(file="").values_list("file", flat=True)}
    files = 0
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.name not in named and path.stat().st_mtime < cutoff.timestamp():
                path.unlink(missing_ok=True)
                files += 1
    if jobs or files:
        log.info("exports: deleted %s old jobs and %s unreferenced files", jobs, files)
    return {"jobs": jobs, "files": files}


@shared_task(name="jury.export_tasks.delete_old_exports")
def delete_old_exports_task() -> dict:
    """Beat's daily sweep: exports are kept ``EXPORT_RETENTION_DAYS`` days."""
    return delete_old_exports(older_than=timedelta(days=settings.EXPORT_RETENTION_DAYS))
