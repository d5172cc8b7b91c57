"""Background exports: the task writes a new file with progress and provenance; the exports page drives it."""

import csv
import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.urls import reverse
from django.utils import timezone

from bundles.importer import import_bundle
from jury.models import ExportJob
from jury.results import export_jobs as export_tasks
from jury.results import exports
from jury.results.calibration import save_calibration
from jury.results.export_jobs import run_export_job, start_export_job
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    return import_bundle(path=write_bundle(tmp_path / "bundle"))


def queued(kind: str, fmt: str, user, **filters) -> ExportJob:
    return ExportJob.objects.create(kind=kind, format=fmt, filters=filters, created_by=user)


def test_the_task_writes_a_new_file_with_its_checksum_and_provenance(imported, rex, media_in_tmp, monkeypatch):
    progress = []
    save_progress = export_tasks._save_progress
    monkeypatch.setattr(
        export_tasks, "_save_progress", lambda job_id, rows: (progress.append(rows), save_progress(job_id, rows))
    )
    job = queued("judgements", "csv", rex)
    outcome = run_export_job(job.pk, progress_every=1)
    job.refresh_from_db()
    assert outcome == {"job": job.pk, "status": "done", "rows": 2, "size": job.size}
    assert progress == [1, 2, 2]
    assert (job.status, job.rows_written, job.rows_total, job.percent) == ("done", 2, 2, 100)
    path = media_in_tmp / job.file.name
    assert path.parent == media_in_tmp / "exports" and path.suffix == ".csv"
    content = path.read_bytes()
    assert job.size == len(content) and job.sha256 == hashlib.sha256(content).hexdigest()
    assert job.provenance["kind"] == "judgements" and job.provenance["app_version"]
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(r["judge"], r["score"]) for r in rows] == [("judge-sim-1", "4"), ("judge-sim-1", "2")]
    assert job.started_at <= job.finished_at and not list(path.parent.glob("*.part"))


def test_parquet_and_jsonl_jobs_round_trip(imported, rex, media_in_tmp):
    parquet, jsonl = queued("judgements", "parquet", rex), queued("annotations", "jsonl", rex)
    run_export_job(parquet.pk)
    run_export_job(jsonl.pk)
    parquet.refresh_from_db()
    jsonl.refresh_from_db()
    table = pq.read_table(media_in_tmp / parquet.file.name)
    assert table.num_rows == 2 and json.loads(table.schema.metadata[b"imcbench.provenance"])["kind"] == "judgements"
    lines = (media_in_tmp / jsonl.file.name).read_text().splitlines()
    assert json.loads(lines[0])["provenance"]["kind"] == "annotations"
    assert {json.loads(line)["annotator"] for line in lines[1:]} == {"clin-a", "clin-b"}


def test_finished_files_are_never_overwritten_or_rewritten(imported, rex, media_in_tmp):
    first, second = queued("judgements", "csv", rex), queued("judgements", "csv", rex)
    run_export_job(first.pk)
    first.refresh_from_db()
    written = (media_in_tmp / first.file.name).read_bytes()
    assert run_export_job(first.pk) == {"job": first.pk, "skipped": "done"}
    run_export_job(second.pk)
    second.refresh_from_db()
    assert second.file.name != first.file.name
    assert (media_in_tmp / first.file.name).read_bytes() == written
    first.refresh_from_db()
    assert first.sha256 == hashlib.sha256(written).hexdigest()


def test_a_running_job_is_left_alone_until_it_goes_stale(imported, rex):
    job = queued("judgements", "jsonl", rex)
    ExportJob.objects.filter(pk=job.pk).update(status="running", updated_at=timezone.now())
    assert run_export_job(job.pk) == {"job": job.pk, "skipped": "running"}
    stale = timezone.now() - export_tasks.STALE_AFTER - timedelta(seconds=1)
    ExportJob.objects.filter(pk=job.pk).update(updated_at=stale)
    assert run_export_job(job.pk)["status"] == "done"


def test_a_failing_export_is_marked_failed_with_its_error_and_leaves_no_file(scored_world, rex, media_in_tmp):  # noqa: F811
    from annotation import services
    from annotation.models import Rubric

    services.create_campaign(
        key="empty", name="Empty", rubric=Rubric.objects.get(is_default=True), conversations=[], clinicians=[]
    )
    job = queued("scores", "parquet", rex, campaign="empty")
    assert run_export_job(job.pk)["status"] == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "has no submitted clinician annotations" in job.error
    assert not job.file and not list((media_in_tmp / "exports").iterdir())


def test_calibrated_scores_use_the_latest_saved_calibration(scored_world, rex, media_in_tmp):  # noqa: F811
    artifact, _ = save_calibration(campaign=scored_world, actor=rex)
    job = queued("scores", "csv", rex, campaign="cal")
    run_export_job(job.pk, progress_every=7)
    job.refresh_from_db()
    assert (job.rows_total, job.rows_written) == (80, 80)
    assert job.provenance["calibration_version"] == 1
    assert job.provenance["calibration_inputs_hash"] == artifact.inputs_hash
    assert {column.split("|")[0] for column in job.provenance["judges"]} == {"judge-a", "judge-b"}


def test_counted_reports_every_n_rows_and_at_the_end():
    reports = []
    rows = list(exports.counted(iter(range(7)), every=3, report=reports.append))
    assert rows == list(range(7)) and reports == [3, 6, 7]


@pytest.mark.django_db(transaction=True)
def test_the_page_starts_a_job_that_completes_in_the_request_without_a_broker(client, rex, imported, eager_celery):
    client.force_login(rex)
    page = client.get("/exports/").content.decode()
    assert "No background export yet" in page and 'id="start-judgements"' in page
    response = client.post("/exports/start/", {"kind": "judgements", "format": "jsonl"}, follow=True)
    job = ExportJob.objects.get()
    assert job.status == "done" and job.created_by == rex
    page = response.content.decode()
    assert f"Export {job.pk} is ready: 2 rows." in page and f"/exports/jobs/{job.pk}/download" in page
    assert 'hx-trigger="every 2s"' not in page
    download = client.get(f"/exports/jobs/{job.pk}/download")
    assert download["Content-Disposition"] == f'attachment; filename="imcbench-judgements-{job.pk}.jsonl"'
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert json.loads(lines[0])["provenance"]["kind"] == "judgements" and len(lines) == 3


def test_the_job_table_polls_while_a_job_is_queued_or_running(client, rex, imported):
    job = queued("annotations", "csv", rex, campaign="anything")
    client.force_login(rex)
    partial = client.get("/exports/", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="export-jobs"') and "<h1>" not in partial
    assert 'hx-trigger="every 2s"' in partial and "not ready" in partial
    ExportJob.objects.filter(pk=job.pk).update(status="running", rows_written=3, rows_total=4)
    partial = client.get("/exports/", headers={"HX-Request": "true"}).content.decode()
    assert "3 / 4 rows (75%)" in partial and 'value="3"' in partial
    assert client.get(f"/exports/jobs/{job.pk}/download").status_code == 404


def test_bad_requests_start_nothing(client, rex, imported, django_capture_on_commit_callbacks):
    client.force_login(rex)
    cases = [
        ({"kind": "scores", "format": "csv"}, "calibrated scores need a campaign"),
        ({"kind": "secrets", "format": "csv"}, "No export &#x27;secrets&#x27;"),
        ({"kind": "judgements", "format": "xlsx"}, "No format &#x27;xlsx&#x27;"),
        ({"kind": "annotations", "format": "csv", "campaign": "nowhere"}, "No campaign &#x27;nowhere&#x27;"),
    ]
    for data, message in cases:
        with django_capture_on_commit_callbacks(execute=True):
            page = client.post("/exports/start/", data, follow=True).content.decode()
        assert message in page
    assert not ExportJob.objects.exists()
    with pytest.raises(ValueError, match="need a campaign"):
        start_export_job(kind="scores", fmt="csv", campaign_key=None, user=rex)


def test_only_researchers_and_admins_export(client, rex, ada, carmen, adele, otto, imported):
    job = queued("judgements", "csv", rex)
    run_export_job(job.pk)
    for user in (carmen, adele, otto):
        client.force_login(user)
        assert client.get("/exports/").status_code == 403
        assert client.post("/exports/start/", {"kind": "judgements", "format": "csv"}).status_code == 403
        assert client.get(f"/exports/jobs/{job.pk}/download").status_code == 403
    client.force_login(ada)
    assert client.get(f"/exports/jobs/{job.pk}/download").status_code == 200
    assert ExportJob.objects.count() == 1


def test_export_files_under_media_are_for_researchers_only(client, carmen, rex, settings):
    exports = Path(settings.MEDIA_ROOT) / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    (exports / "scores-1-abc.csv").write_text("conversation\n")
    ExportJob.objects.create(kind="scores", format="csv", status="done", file="exports/scores-1-abc.csv")
    url = reverse("media", args=["exports/scores-1-abc.csv"])
    client.force_login(carmen)
    assert client.get(url).status_code == 403
    client.force_login(rex)
    assert client.get(url).status_code == 200
