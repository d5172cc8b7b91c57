"""Smoke test in Chromium: log in, open the admin case page, see the image and the profile, screenshot."""

import pytest

from annotation.models import Case
from bundles.importer import import_bundle
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_admin_logs_in_and_opens_a_case(live_server, page, screenshot, tmp_path, settings):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    case = Case.objects.get(key="case-0001")

    log_in(page, live_server, "ada", PASSWORD)
    page.goto(f"{live_server.url}/admin/annotation/case/{case.pk}/change/")

    preview = page.locator(".case-preview img").first
    preview.wait_for()
    assert page.evaluate("img => img.naturalWidth", preview.element_handle()) > 0
    assert page.locator(".case-preview").get_by_text("Metformin — 500 mg twice daily").is_visible()
    assert page.locator(".case-preview-conversations tbody tr").count() == 6
    path = screenshot("admin-case-page")
    assert path.stat().st_size > 10_000
    assert page.console_errors == [], page.console_errors
