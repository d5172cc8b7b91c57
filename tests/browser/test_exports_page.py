"""A researcher starts a background export in Chromium, watches a running job's progress update, downloads a file."""

import json

import pytest
from playwright.sync_api import expect

from annotation.roles import Role
from bundles.importer import import_bundle
from jury.models import ExportJob
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.mark.django_db(transaction=True)
def test_a_researcher_exports_in_the_background_and_downloads(live_server, page, screenshot, tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    rex = UserFactory(username="rex", roles=[Role.RESEARCHER])
    log_in(page, live_server, "rex", PASSWORD)

    page.goto(f"{live_server.url}/exports/")
    expect(page.locator("#export-job-table")).to_contain_text("No background export yet")
    page.locator("#start-judgements").get_by_role("button", name="Parquet").click()  # eager: done in the request
    done = ExportJob.objects.get()
    row = page.locator(f"#export-job-{done.pk}")
    expect(row).to_contain_text("Done")
    expect(row).to_contain_text("2 / 2 rows (100%)")

    # A job a worker is writing: the table polls every 2 s and follows the rows written.
    running = ExportJob.objects.create(
        kind="annotations", format="csv", status="running", rows_written=1, rows_total=4, created_by=rex
    )
    page.goto(f"{live_server.url}/exports/")
    expect(page.locator(f"#export-job-{running.pk}")).to_contain_text("1 / 4 rows (25%)")
    ExportJob.objects.filter(pk=running.pk).update(rows_written=3)
    expect(page.locator(f"#export-job-{running.pk}")).to_contain_text("3 / 4 rows (75%)", timeout=6000)
    screenshot("exports-page")

    with page.expect_download() as download_info:
        row.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == f"imcbench-judgements-{done.pk}.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(download.path())
    assert table.num_rows == 2 and json.loads(table.schema.metadata[b"imcbench.provenance"])["kind"] == "judgements"
    assert page.console_errors == []
