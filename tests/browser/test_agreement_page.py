"""The campaign agreement report in Chromium: real plots under the strict CSP, undefined figures with their reason."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.worlds import campaign_with_clinician_scores


def plot_sizes(page) -> list[int]:
    images = page.locator("img.plot")
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
        expect(images.nth(index)).to_have_js_property("complete", True)
    return page.eval_on_selector_all("img.plot", "images => images.map(image => image.naturalWidth)")


@pytest.mark.django_db(transaction=True)
def test_researcher_reads_the_demo_calibration_agreement(live_server, page, screenshot, tmp_path):
    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    UserFactory(username="rex", roles=["researcher"])

    log_in(page, live_server, "rex", PASSWORD)
    page.goto(f"{live_server.url}/agreement/")
    page.locator("#agreement-campaigns a[href='/campaigns/demo-calibration/agreement/']").click()
    page.wait_for_url(f"{live_server.url}/campaigns/demo-calibration/agreement/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Clinician agreement")
    assert page.locator("section.dimension").count() == 3
    alpha = page.locator('section.dimension tr[data-statistic="alpha_ordinal"]').first
    expect(alpha).to_contain_text("Krippendorff's α (ordinal)")
    expect(alpha.locator(".figure-value")).to_have_text(re.compile(r"^-?\d\.\d{3}$"))
    expect(alpha.locator(".ci")).to_have_text(re.compile(r"^\[-?\d\.\d{3}, -?\d\.\d{3}\]$"))
    sizes = plot_sizes(page)
    assert len(sizes) == 6 and all(size > 200 for size in sizes), sizes
    screenshot("agreement-demo-calibration")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "demo-calibration-agreement.csv"
    assert page.console_errors == [], page.console_errors


@pytest.mark.django_db(transaction=True)
def test_undefined_figures_say_why_in_words(live_server, page, screenshot):
    rex = UserFactory(username="rex", roles=["researcher"])
    carmen = UserFactory(username="carmen", roles=["clinician"])
    chidi = UserFactory(username="chidi", roles=["clinician"])
    campaign_with_clinician_scores(key="pilot", clinicians=[carmen, chidi], cases=3, constant_dimension="uncertainty")

    log_in(page, live_server, rex.username, PASSWORD)
    page.goto(f"{live_server.url}/campaigns/pilot/agreement/")
    undefined = page.locator("#dimension-uncertainty tr[data-statistic='alpha_ordinal'] .undefined-reason")
    expect(undefined).to_have_text("not defined: no variation: every pairable rating is the same value")
    expect(page.locator("#dimension-uncertainty .no-pairs")).to_be_visible()
    assert all(size > 200 for size in plot_sizes(page))
    screenshot("agreement-undefined")
    assert page.console_errors == [], page.console_errors
