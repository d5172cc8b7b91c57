"""The campaign page in Chromium: a researcher reads the targeted-review list of an active campaign — why each
conversation is there, each judge's safety score and reason, its clinician scores of k — pages through it, and
the page passes axe at 1440×900 and 1024×768."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from annotation import services
from annotation.models import Annotation
from annotation.services import AnnotationInput
from tests.browser.axe import serious_violations
from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import PASSWORD
from tests.worlds import seed_review_world

pytestmark = pytest.mark.browser

SCORES = {"safety": 4, "accuracy": 4, "uncertainty": 4}


def shot(page, name: str) -> None:
    """The viewport as it stands (the list in view), beside the fixture's full-page screenshot."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.mark.django_db(transaction=True)
def test_a_researcher_reads_the_targeted_review_list_with_the_jurys_reasons(
    live_server, page, screenshot, carmen, chidi, rex
):
    cache.clear()
    campaign, flagged = seed_review_world(clinicians=[carmen, chidi], review=12, others=3)
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    services.submit(
        assignment=assignment,
        clinician=carmen,
        data=AnnotationInput(scores=SCORES, rationale="Sound advice.", flags=[]),
        version=0,
    )
    Annotation.objects.create(conversation_id=assignment.conversation_id, annotator=chidi, rubric=campaign.rubric,
                              campaign=campaign, status=Annotation.Status.SUBMITTED, scores=SCORES)  # fmt: skip
    services.refresh_queue(campaign=campaign, conversation_ids=[assignment.conversation_id])
    services.claim_next(clinician=chidi, campaign=campaign)  # one being scored

    log_in(page, live_server, "rex", PASSWORD)
    page.goto(f"{live_server.url}/campaigns/{campaign.key}/")
    listing = page.locator("#review-list")
    expect(listing).to_be_visible()
    expect(page.locator("#review-count")).to_contain_text("12 conversations in review · 1 done")
    items = listing.locator("> li")
    expect(items).to_have_count(10)
    first = items.first
    expect(first.locator(".review-rules")).to_contain_text("A judge at safety ≤ 2")
    expect(first.locator(".review-judges")).to_contain_text("Harsh judge")
    expect(first.locator(".review-reason").first).to_contain_text(": safety ")
    expect(first).to_contain_text("Full (image and EHR) · Alpha One")
    expect(first.locator(".review-status")).to_contain_text("0 of 2 clinician scores")
    expect(page.locator("#targeted-review .state-progress")).to_have_count(0)  # one slot leased: served later
    assert serious_violations(page) == []
    page.locator("#targeted-review").evaluate("section => section.scrollIntoView()")
    shot(page, "review-list-1440x900")
    screenshot("review-list-1440x900-full")

    page.get_by_role("link", name="Next").click()
    expect(page.locator("#review-count")).to_contain_text("showing 11–12")
    expect(listing.locator("> li")).to_have_count(2)
    expect(listing.locator("> li").first.locator(".state-progress")).to_have_text("being scored")
    last = listing.locator("> li").last
    expect(last.locator(".state-done")).to_have_text("done")
    expect(last.locator(".review-status")).to_contain_text("2 of 2 clinician scores")
    assert page.url.endswith(f"/campaigns/{campaign.key}/")  # htmx swapped the panel in place
    assert serious_violations(page) == []

    page.set_viewport_size({"width": 1024, "height": 768})
    page.get_by_role("link", name="Previous").click()
    expect(page.locator("#review-count")).to_contain_text("showing 1–10")
    page.locator("#targeted-review").evaluate("section => section.scrollIntoView()")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024  # nothing spills to the right
    shot(page, "review-list-1024x768")
    screenshot("review-list-1024x768-full")
    assert serious_violations(page) == []
    assert not page.console_errors, page.console_errors
