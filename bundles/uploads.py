"""Bundle uploads from the admin: the web process saves the file and queues a Celery task that imports it.

An upload's state lives in the audit log, as events whose ``details["upload"]`` is its id:
``queue_bundle_import`` (queued), ``start_bundle_import`` (running) and ``finish_bundle_import`` (imported,
unchanged, rejected or failed, with the summary, notes or problems). Read it with
``bundles.selectors.upload_state``. The saved file sits under ``MEDIA_ROOT/bundle-uploads/`` with an
unguessable name until its task ends. Without a broker the task runs eagerly once the request's transaction
commits.
"""

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import AuditEvent
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "bundle-uploads"
QUEUED, RUNNING, FINISHED = "queue_bundle_import", "start_bundle_import", "finish_bundle_import"


def upload_path(token: str) -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_FOLDER / f"{token}.zip"


def queue_bundle_upload(*, uploaded, user) -> str:
    """Save an uploaded .zip, record it and queue its import; return the upload's id."""
    token = secrets.token_hex(16)
    target = upload_path(token)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("xb") as handle:
            for chunk in uploaded.chunks():
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        AuditEvent.objects.create(
            actor=user, action=QUEUED, target=uploaded.name[:300], details={"upload": token, "file": uploaded.name}
        )
        transaction.on_commit(lambda: run_bundle_upload.delay(token))
    return token


@shared_task(name="bundles.run_bundle_upload", acks_late=True)
def run_bundle_upload(token: str) -> str:
    """Import one queued upload and record how it ended; returns that state. A finished upload is left alone."""
    queued = AuditEvent.objects.filter(action=QUEUED, details__upload=token).select_related("actor").first()
    if queued is None or AuditEvent.objects.filter(action=FINISHED, details__upload=token).exists():
        return "skipped"
    AuditEvent.objects.create(actor=queued.actor, action=RUNNING, target=queued.target, details={"upload": token})
    outcome = _import(upload_path(token), actor=queued.actor, name=queued.details.get("file") or queued.target)
    upload_path(token).unlink(missing_ok=True)
    AuditEvent.objects.create(
        actor=queued.actor, action=FINISHED, target=queued.target, details={"upload": token, **outcome}
    )
    return outcome["state"]


def _import(path: Path, *, actor, name: str) -> dict:
    try:
        report = import_bundle(path=path, actor=actor, name=name)
    except BundleInvalid as error:
        return {"state": "rejected", "problems": [str(p) for p in error.problems], "truncated": error.truncated}
    except Exception as error:  # recorded for the admin page; the traceback goes to the log
        log.exception("bundle upload %s failed", path.name)
        return {"state": "failed", "error": f"{type(error).__name__}: {error}"}
    return {
        "state": "unchanged" if report.changed_nothing else "imported",
        "summary": report.summary(),
        "notes": report.notes,
        "bundle": report.bundle.pk if report.bundle else None,
    }


def delete_abandoned_uploads(*, older_than: timedelta, now=None) -> int:
    """Delete saved upload files (and partial writes) older than ``older_than``: a finished import removes its file,
    so one left that long was never imported (its task was lost, or the worker died mid-import). Its upload is
    recorded as failed, so the admin page says what happened to it. Returns how many files were deleted."""
    now = now or timezone.now()
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_FOLDER
    if not folder.is_dir():
        return 0
    deleted = 0
    for path in folder.iterdir():
        if not path.is_file() or path.stat().st_mtime >= (now - older_than).timestamp():
            continue
        path.unlink(missing_ok=True)
        deleted += 1
        token = path.name.split(".", 1)[0]
        queued = AuditEvent.objects.filter(action=QUEUED, details__upload=token).first()
        if queued and not AuditEvent.objects.filter(action=FINISHED, details__upload=token).exists():
            error = f"abandoned: the file was deleted after {older_than.days} days without being imported"
            AuditEvent.objects.create(
                actor=queued.actor,
                action=FINISHED,
                target=queued.target,
                details={"upload": token, "state": "failed", "error": error},
            )
    if deleted:
        log.info("bundle uploads: deleted %s abandoned files", deleted)
    return deleted


@shared_task(name="bundles.delete_abandoned_uploads")
def delete_abandoned_uploads_task() -> int:
    """Beat's daily sweep: an upload file is kept ``UPLOAD_RETENTION_DAYS`` days at most."""
    return delete_abandoned_uploads(older_than=timedelta(days=settings.UPLOAD_RETENTION_DAYS))
