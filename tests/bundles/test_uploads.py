"""The import page: the web process only saves the zip and queues its import; a Celery task imports it and
the upload's page shows the state and, when done, the summary or every problem. Researchers and admins use it."""

import copy

import pytest

from annotation.models import BundleImport, Case
from bundles.selectors import upload_state
from bundles.uploads import run_bundle_upload, upload_path
from tests.bundle_files import base_records, write_bundle, zip_directory

pytestmark = pytest.mark.django_db

UPLOAD = "/imports/"


def post_bundle(client, archive):
    with archive.open("rb") as handle:
        return client.post(UPLOAD, {"bundle": handle})


def test_the_upload_request_queues_the_import_instead_of_running_it(client, rex, tmp_path):
    client.force_login(rex)
    archive = zip_directory(write_bundle(tmp_path / "bundle"), tmp_path / "bundle.zip")

    response = post_bundle(client, archive)  # the test's transaction never commits: the task is not run

    token = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert response.status_code == 302 and Case.objects.count() == 0
    assert upload_state(token=token).state == "queued" and upload_path(token).is_file()
    page = client.get(response["Location"]).content.decode()
    assert 'class="upload-state">queued<' in page and 'hx-trigger="every 3s"' in page

    assert run_bundle_upload(token) == "imported"

    assert Case.objects.count() == 2 and not upload_path(token).exists(), "the saved zip is removed when done"
    page = client.get(response["Location"]).content.decode()
    assert "Bundle &#x27;Test bundle&#x27; imported: created 2 models" in page and "every 3s" not in page
    assert run_bundle_upload(token) == "skipped", "a finished upload is never imported twice"
    assert "bundle.zip" in client.get(UPLOAD).content.decode()


def test_a_bundle_that_crashed_the_upload_is_rejected_with_its_problem(
    client, ada, tmp_path, django_capture_on_commit_callbacks, eager_celery
):
    records = copy.deepcopy(base_records())
    records["cases"][0]["profile"]["entry"][2]["resource"]["dosage"] = 5
    client.force_login(ada)
    archive = zip_directory(write_bundle(tmp_path / "bundle", records), tmp_path / "bundle.zip")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_bundle(client, archive)

    page = client.get(response["Location"]).content.decode()
    assert 'class="upload-state">rejected<' in page and "nothing changed" in page
    assert "cases.jsonl:1: profile.entry[2].resource.dosage: must be a list, not int" in page
    assert BundleImport.objects.count() == 0


def test_an_unknown_upload_is_not_found(client, ada):
    client.force_login(ada)
    assert client.get(f"{UPLOAD}0123abcd/").status_code == 404


def test_the_admins_import_list_links_the_import_page_and_each_upload(client, ada, tmp_path):
    client.force_login(ada)
    archive = zip_directory(write_bundle(tmp_path / "bundle"), tmp_path / "bundle.zip")
    token = post_bundle(client, archive)["Location"].rstrip("/").rsplit("/", 1)[-1]

    page = client.get("/admin/annotation/bundleimport/").content.decode()

    assert f'href="{UPLOAD}"' in page and f'href="{UPLOAD}{token}/"' in page


def test_a_corrupt_zip_is_rejected_by_its_own_name_without_a_server_path(
    client, rex, tmp_path, django_capture_on_commit_callbacks, eager_celery, settings
):
    archive = tmp_path / "study.zip"
    archive.write_bytes(b"PK\x03\x04 this is not the rest of a zip archive")
    client.force_login(rex)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_bundle(client, archive)

    page = client.get(response["Location"]).content.decode()
    assert 'class="upload-state">rejected<' in page
    assert "study.zip: not a readable .zip file: its table of contents is missing" in page
    assert str(settings.MEDIA_ROOT) not in page and "bundle-uploads" not in page
    assert "a bundle is a directory or a .zip file" not in page


def test_an_upload_with_no_file_says_what_to_do(client, rex):
    client.force_login(rex)

    response = client.post(UPLOAD, {})

    assert response.status_code == 400 and "Choose a bundle&#x27;s .zip file to upload." in response.content.decode()
