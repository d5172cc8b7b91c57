"""Bundle uploads (the admin page, and ``POST /api/imports/``): the web process saves the file and queues a Celery
task that imports it, as a bundle or through one of the adapters (a chat log, a dataset file, an Inspect log).

An upload's state lives in the audit log, as events whose ``details["upload"]`` is its id (the queued event also
holds the format, the file's suffix and the chat mapping):
``queue_bundle_import`` (queued), ``start_bundle_import`` (running) and ``finish_bundle_import`` (imported,
unchanged, rejected or failed, with the summary, notes or problems). Read it with
``bundles.selectors.upload_state``. The saved file sits under ``MEDIA_ROOT/bundle-uploads/`` with an
unguessable name until its task ends. Without a broker the task runs eagerly once the request's transaction
commits.
"""

import dataclasses
import logging
import os
import secrets
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.models import AuditEvent
from bundles.adapters import ADAPTERS
from bundles.adapters.mapping import ChatMapping
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "bundle-uploads"
QUEUED, RUNNING, FINISHED = "queue_bundle_import", "start_bundle_import", "finish_bundle_import"


BUNDLE = "bundle"


def upload_path(token: str, suffix: str = ".zip") -> Path:
    return Path(settings.MEDIA_ROOT) / UPLOAD_FOLDER / f"{token}{suffix}"


def queue_bundle_upload(*, uploaded, user, format: str = BUNDLE, mapping: ChatMapping | None = None) -> str:
    """Save an uploaded file, record it and queue its import; return the upload's id. ``format`` is ``bundle`` (a
    .zip) or an adapter's name, whose file suffix the caller has checked; ``mapping`` is the chat mapping."""
    token = secrets.token_hex(16)
    suffix = Path(uploaded.name).suffix.lower() if format != BUNDLE else ".zip"
    target = upload_path(token, suffix)
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
        details = {"upload": token, "file": uploaded.name, "format": format, "suffix": suffix}
        if mapping is not None:
            details["mapping"] = dataclasses.asdict(mapping)
        AuditEvent.objects.create(actor=user, action=QUEUED, target=uploaded.name[:300], details=details)
        transaction.on_commit(lambda: run_bundle_upload.delay(token))
    return token


@shared_task(name="bundles.run_bundle_upload", acks_late=True)
def run_bundle_upload(token: str) -> str:
    """Import one queued upload and record how it ended; returns that state. A finished upload is left alone."""
    queued = AuditEvent.objects.filter(action=QUEUED, details__upload=token).select_related("actor").first()
    if queued is None or AuditEvent.objects.filter(action=FINISHED, details__upload=token).exists():
        return "skipped"
    AuditEvent.objects.create(actor=queued.actor, action=RUNNING, target=queued.target, details={"upload": token})
    details = queued.details
    path = upload_path(token, details.get("suffix", ".zip"))
    outcome = _import(path, actor=queued.actor, details=details)
    path.unlink(missing_ok=True)
    AuditEvent.objects.create(
        actor=queued.actor, action=FINISHED, target=queued.target, details={"upload": token, **outcome}
    )
    return outcome["state"]


def _import(path: Path, *, actor, details: dict) -> dict:
    try:
        report = _run_import(path, actor=actor, details=details)
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


def _run_import(path: Path, *, actor, details: dict):
    """A bundle is imported from its saved zip; another format from a private folder holding only the file, under
    its uploaded name (so problems name it, and no other upload sits beside it as a file a chat line could name)."""
    format = details.get("format", BUNDLE)
    if format == BUNDLE:
        return import_bundle(path=path, actor=actor, name=details.get("file") or path.name)
    mapping = ChatMapping(**details["mapping"]) if details.get("mapping") else ChatMapping()
    with tempfile.TemporaryDirectory(prefix="imcbench-upload-") as folder:
        private = Path(folder) / safe_file_name(details.get("file", ""), suffix=path.suffix)
        shutil.copyfile(path, private)
        return ADAPTERS[format](path=private, mapping=mapping, actor=actor)


def safe_file_name(name: str, *, suffix: str) -> str:
    """The uploaded file's own name, reduced to letters, digits, ``._-`` and ending in ``suffix``."""
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in Path(name).stem)[:100]
    return f"{stem.strip('.') or 'upload'}{suffix}"


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
