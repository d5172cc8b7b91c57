"""The calibration and leaderboard figures as a researcher sees them in Chromium at 1280 px."""

import pytest
from django.core.cache import cache

from tests.browser.conftest import ARTIFACTS, REPORT_SHOWN, log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.worlds import DIMENSIONS, seed_rich_world

WIDTH = 1280


def look_at_figures(page, prefix: str) -> list[str]:
    """Screenshot every figure on the page; each must fit the page and render at a readable size."""
    names = []
    figures = page.locator("figure.result-figure:visible")
    for index in range(figures.count()):
        figure = figures.nth(index)
        figure.scroll_into_view_if_needed()
        svg = figure.locator("svg.result-plot-svg")
        box = svg.bounding_box()
        assert box["width"] >= 480 and box["height"] >= 100, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
        name = f"{prefix}-{figure.get_attribute('id') or index}"
        figure.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        names.append(name)
    return names


@pytest.mark.django_db(transaction=True)
def test_researcher_reads_the_calibration_and_leaderboard_figures(live_server, page, screenshot):
    cache.clear()
    seed_rich_world()  # enough clinician scores for every PPI figure
    UserFactory(username="rex", roles=["researcher"])
    page.set_viewport_size({"width": WIDTH, "height": 900})
    log_in(page, live_server, "rex", PASSWORD)

    page.goto(f"{live_server.url}/campaigns/results/calibration/")
    page.wait_for_selector(REPORT_SHOWN, timeout=120_000)  # computed after the progress state
    for dimension in DIMENSIONS:
        figure = page.locator(f"#reliability-figure-{dimension} svg[role=img]")
        assert figure.get_attribute("aria-labelledby") == f"reliability-{dimension}-title reliability-{dimension}-desc"
    assert len(look_at_figures(page, "results-calibration")) == 3
    screenshot("results-calibration-page")

    page.goto(f"{live_server.url}/campaigns/results/leaderboard/")
    page.wait_for_selector(REPORT_SHOWN, timeout=120_000)  # computed after the progress state
    assert page.get_by_role("img", name="Models: PPI estimate (jury + clinicians)", exact=False).is_visible()
    assert len(look_at_figures(page, "results-leaderboard")) == 4
    page.locator("#subgroup-heatmaps-per-dimension summary").click()
    per_dimension = page.locator("#subgroup-heatmaps-per-dimension svg[role=img]")
    assert per_dimension.count() == 3 and per_dimension.first.is_visible()
    per_dimension.nth(0).screenshot(path=str(ARTIFACTS / "results-leaderboard-heatmap-safety.png"))
    screenshot("results-leaderboard-page")
    assert page.console_errors == [], page.console_errors
