"""A researcher's day in Chromium: from the menu to a campaign's results, a thin campaign's calibration saying what
is missing, the calibration and run pages in words and formatted figures, and an API token made once and revoked."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from annotation.roles import Role
from tests.browser.conftest import REPORT_SHOWN, log_in
from tests.conftest import PASSWORD
from tests.factories import JuryRunFactory, UserFactory
from tests.worlds import campaign_with_clinician_scores, seed_results_world


@pytest.mark.django_db(transaction=True)
def test_a_researcher_finds_results_reads_them_in_words_and_manages_a_token(live_server, page, screenshot):
    cache.clear()
    campaign = seed_results_world(n_cases=8, scored_cases=8)
    thin = campaign_with_clinician_scores(key="thin", cases=1, conversations_per_case=3)
    run = JuryRunFactory(
        budget=250,
        estimate={"items": 12000, "cached": 0, "calls": 12000, "input_tokens": 48015384, "output_tokens": 1200000}
        | {"cost": 138.093685, "unbuildable": 0, "note": "prices from the judges' tables"},
    )
    UserFactory(username="rex", roles=[Role.RESEARCHER])
    log_in(page, live_server, "rex", PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Results").click()
    screenshot("researcher-day-campaigns")
    page.get_by_role("navigation", name=f"Results of {campaign.name}").get_by_role("link", name="Calibration").click()
    expect(page.locator("h1")).to_contain_text(f"Jury calibration against {campaign.name}")
    page.wait_for_selector(REPORT_SHOWN, timeout=120_000)  # computed after the progress state
    expect(page.locator("main")).to_contain_text("Best single judge")
    screenshot("researcher-day-calibration")

    page.goto(f"{live_server.url}/campaigns/{thin.key}/")
    page.get_by_role("link", name="Leaderboard").click()
    page.wait_for_selector(REPORT_SHOWN, timeout=120_000)
    expect(page.locator("#leaderboard-problem")).to_contain_text(
        "Only 3 conversations in 1 case have clinician scores; calibration needs at least 10 across 5 cases."
    )
    screenshot("researcher-day-thin-leaderboard")

    page.goto(f"{live_server.url}/jury/runs/{run.pk}/")
    expect(page.locator("#estimate")).to_contain_text("about 48,015,384 input and 1,200,000 output tokens")
    expect(page.locator("#estimate")).to_contain_text("about $138.09")
    screenshot("researcher-day-run")

    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Create a token").click()
    key = page.locator("#token-key").inner_text()
    assert len(key) == 40
    screenshot("researcher-day-token-created")
    page.goto(f"{live_server.url}/account/")
    expect(page.locator("#token-state")).to_contain_text("You hold a token, created")
    assert key not in page.content()
    page.get_by_role("button", name="Revoke the token").click()
    expect(page.locator("#token-state")).to_contain_text("You hold no token")
    screenshot("researcher-day-token-revoked")
    assert not page.console_errors
