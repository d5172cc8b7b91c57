"""The periodic sweeps beat runs: lapsed annotation leases, old exports, abandoned bundle uploads."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotation import services
from annotation.models import Assignment, AuditEvent, Rubric
from bundles import uploads
from bundles.selectors import upload_state
from jury.models import ExportJob
from jury.results.export_jobs import delete_old_exports
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def old_file(path: Path, days: float, content: bytes = b"x") -> Path:
    path.write_bytes(content)
    then = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(path, (then, then))
    return path


def test_lapsed_leases_expire_in_open_campaigns_only(carmen):
    rubric = Rubric.objects.get(is_default=True)
    kept = {}
    for key, state in (("open", "open"), ("locked", "open")):
        campaign = services.create_campaign(
            key=key,
            name=key,
            rubric=rubric,
            conversations=[ConversationFactory(), ConversationFactory()],
            clinicians=[carmen],
            overlap=1,
            state=state,
        )
        kept[key] = services.claim_next(clinician=carmen, campaign=campaign)
    type(kept["locked"].campaign).objects.filter(key="locked").update(state="locked")
    later = timezone.now() + timedelta(days=2)  # past every lease

    assert services.expire_stale_leases(now=later) == 1
    assert Assignment.objects.get(pk=kept["open"].pk).state == Assignment.State.EXPIRED
    assert Assignment.objects.get(pk=kept["locked"].pk).state == Assignment.State.ACTIVE
    assert services.expire_stale_leases(now=later) == 0


def test_leases_still_running_are_left_alone(carmen):
    campaign = services.create_campaign(
        key="c",
        name="c",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory()],
        clinicians=[carmen],
        overlap=1,
    )
    held = services.claim_next(clinician=carmen, campaign=campaign)
    assert services.expire_stale_leases() == 0
    assert Assignment.objects.get(pk=held.pk).state == Assignment.State.ACTIVE


def test_old_finished_exports_go_with_their_files_recent_ones_stay(media_in_tmp, rex):
    folder = Path(media_in_tmp, "exports")
    folder.mkdir(parents=True)
    now = timezone.now()

    def job(name: str, status: str, finished_days_ago: float | None) -> ExportJob:
        (folder / name).write_text("a,b\n")
        finished = None if finished_days_ago is None else now - finished_days_ago * DAY
        return ExportJob.objects.create(
            kind="annotations", format="csv", status=status, file=f"exports/{name}", finished_at=finished
        )

    old = job("old.csv", "done", 40)
    old_failed = ExportJob.objects.create(kind="annotations", format="csv", status="failed", finished_at=now - 40 * DAY)
    recent = job("recent.csv", "done", 2)
    running = job("running.csv", "running", None)
    old_file(folder / "gone-1.csv.part", 40)  # a crashed worker's partial file
    old_file(folder / "gone-2.csv.part", 0)
    old_file(folder / "recent-but-old-mtime.csv", 40)
    named = ExportJob.objects.create(
        kind="annotations", format="csv", status="done", file="exports/recent-but-old-mtime.csv"
    )

    assert delete_old_exports(older_than=30 * DAY) == {"jobs": 2, "files": 1}
    assert set(ExportJob.objects.values_list("pk", flat=True)) == {recent.pk, running.pk, named.pk}
    assert not ExportJob.objects.filter(pk__in=[old.pk, old_failed.pk]).exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "gone-2.csv.part",
        "recent-but-old-mtime.csv",
        "recent.csv",
        "running.csv",
    ]


def test_abandoned_upload_files_are_deleted_and_their_upload_says_so(media_in_tmp, rex):
    folder = Path(media_in_tmp, uploads.UPLOAD_FOLDER)
    folder.mkdir(parents=True)
    for token in ("a" * 32, "b" * 32):
        AuditEvent.objects.create(actor=rex, action=uploads.QUEUED, target=f"{token[0]}.zip", details={"upload": token})
    old_file(uploads.upload_path("a" * 32), 10)
    fresh = old_file(uploads.upload_path("b" * 32), 0)
    old_file(folder / ("c" * 32 + ".zip.part"), 10)

    assert uploads.delete_abandoned_uploads(older_than=7 * DAY) == 2
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name]
    state = upload_state(token="a" * 32)
    assert state.state == "failed" and "abandoned" in state.error
    assert upload_state(token="b" * 32).state == "queued"
    assert uploads.delete_abandoned_uploads(older_than=7 * DAY) == 0


def test_no_upload_folder_is_nothing_to_do(media_in_tmp):
    assert uploads.delete_abandoned_uploads(older_than=DAY) == 0
