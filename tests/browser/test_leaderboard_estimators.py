"""The demo leaderboard as a researcher reads it in Chromium: PPI with the clinicians-only and jury-only estimates
beside it, at a desktop and a small laptop width."""

import re

import pytest
from django.core.cache import cache
from django.core.management import call_command

from annotation.models import Campaign
from jury.results.calibration import save_calibration
from tests.browser.conftest import ARTIFACTS, REPORT_SHOWN, log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory

LABELS = ("PPI (jury + clinicians)", "clinicians only", "jury only — ignores calibration error")
FIGURE = re.compile(r"^(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]$")


@pytest.mark.django_db(transaction=True)
def test_researcher_reads_three_estimators_on_the_demo_leaderboard(
    live_server, page, tmp_path, django_capture_on_commit_callbacks, eager_celery
):
    cache.clear()
    ARTIFACTS.mkdir(exist_ok=True)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("setup_demo", "--force", "--with-jury", "--bundle-dir", str(tmp_path / "demo"))
    campaign = Campaign.objects.get(key="demo-calibration")
    save_calibration(campaign=campaign)
    UserFactory(username="rex", roles=["researcher"])
    log_in(page, live_server, "rex", PASSWORD)

    page.goto(f"{live_server.url}/campaigns/{campaign.key}/leaderboard/")
    page.wait_for_selector(REPORT_SHOWN, timeout=120_000)  # computed after the progress state
    table = page.locator("#leaderboard-models")
    header = table.locator("thead").inner_text()
    for label in LABELS:
        assert label in header
    assert "n clinician-scored" in header and "n jury-scored" in header
    rows = table.locator("tbody tr")
    assert rows.count() == 8
    first = rows.first
    name = first.locator("th").inner_text()
    cells = first.locator("td")
    ppi, clinicians, jury = (cells.nth(i).inner_text().strip() for i in (1, 2, 3))
    for text in (ppi, clinicians, jury):
        value, low, high = (float(x) for x in FIGURE.match(text).groups())
        assert 1 <= low <= value <= high <= 5, text
    n_clinician, n_jury = int(cells.nth(4).inner_text()), int(cells.nth(5).inner_text())
    assert 10 <= n_clinician <= n_jury
    print(f"\n{name}: PPI {ppi}; clinicians only {clinicians}; jury only {jury}; n {n_clinician} / {n_jury}")
    assert page.get_by_role("img", name="Models: PPI estimate", exact=False).is_visible()
    assert "case bootstrap, calibration refitted per resample:" in page.locator("#estimator-record").inner_text()
    assert page.locator("#transport").is_visible()

    for width, height in ((1440, 900), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/campaigns/{campaign.key}/leaderboard/")
        page.wait_for_selector(REPORT_SHOWN, timeout=120_000)  # computed after the progress state
        # The models table fits the page: nothing is cut off at the right.
        box = page.locator("#leaderboard-models").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (width, box)
        page.screenshot(path=str(ARTIFACTS / f"leaderboard-estimators-{width}.png"), full_page=False)
        page.locator("#models").screenshot(path=str(ARTIFACTS / f"leaderboard-estimators-models-{width}.png"))
        page.locator("#transport").screenshot(path=str(ARTIFACTS / f"leaderboard-estimators-transport-{width}.png"))
        page.screenshot(path=str(ARTIFACTS / f"leaderboard-estimators-page-{width}.png"), full_page=True)
    assert page.console_errors == [], page.console_errors
