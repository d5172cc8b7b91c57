"""The demo as a researcher sees it in Chromium: the case list and a case page with real images."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from annotation import selectors
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_researcher_browses_demo_cases(live_server, page, screenshot, tmp_path):
    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    UserFactory(username="rex", roles=["researcher"])

    log_in(page, live_server, "rex", PASSWORD)
    page.goto(f"{live_server.url}/cases/")
    assert page.locator("#case-table tbody tr").count() == 25
    page.get_by_label("Search").fill("shoulder")
    shoulder_cases = selectors.case_list(search="shoulder").count()
    assert 0 < shoulder_cases < 25
    expect(page.locator("#case-table tbody tr")).to_have_count(shoulder_cases)
    assert "q=shoulder" in page.url
    screenshot("demo-case-list-search")

    page.goto(f"{live_server.url}/cases/case-0001/")
    image = page.locator(".images img").first
    image.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth", image.element_handle()) > 500
    assert page.get_by_role("heading", name="Patient profile").is_visible()
    assert page.locator("#conversation-table tbody tr").count() == 24
    screenshot("demo-case-page")

    page.goto(f"{live_server.url}/conversations/{page.locator('#conversation-table tbody a').first.inner_text()}/")
    assert page.get_by_text("Synthetic demo content, not real model output.").is_visible()
    screenshot("demo-conversation")
    assert page.console_errors == [], page.console_errors
