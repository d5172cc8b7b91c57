"""The campaign page in Chromium: a researcher chooses the sampling design and reads the planning panel's projected
interval widths, then asks how many more clinician scores reach ±0.20."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from annotation.models import Conversation
from annotation.roles import Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.worlds import seed_results_world

pytestmark = pytest.mark.browser


@pytest.mark.django_db(transaction=True)
def test_the_planning_panel_shows_projected_widths_and_the_scores_needed(live_server, page, screenshot):
    cache.clear()
    campaign = seed_results_world(n_cases=16, scored_cases=10)
    campaign.conversations.add(*Conversation.objects.filter(condition="full", case__key__gte="case-010"))
    UserFactory(username="rex", roles=[Role.RESEARCHER])
    log_in(page, live_server, "rex", PASSWORD)
    page.goto(f"{live_server.url}/campaigns/{campaign.key}/")
    page.get_by_label("Active").check()
    page.get_by_role("button", name="Save design").click()
    expect(page.locator("main")).to_contain_text("Sampling design set to Active")
    table = page.locator("#planning-table")
    expect(table).to_be_visible(timeout=120_000)  # the leaderboard behind it bootstraps 2,000 times
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page.locator("#planning")).to_contain_text("Under the current design (Active)")
    expect(table.locator("thead")).to_contain_text("+200")
    page.get_by_label("Target half-width ±").fill("0.20")
    page.get_by_role("button", name="How many more?").click()
    expect(table.locator("thead")).to_contain_text("More for ±0.2")
    expect(page.locator("#planning-every")).to_be_visible()
    page.locator("#planning").scroll_into_view_if_needed()
    screenshot("planning-panel-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    screenshot("planning-panel-1024")
    assert not page.console_errors
