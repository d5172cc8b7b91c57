"""Adjudication in Chromium: an adjudicator sees both clinicians' scores side by side and records final scores;
an admin watches campaign progress."""

import pytest
from playwright.sync_api import expect

from annotation import services
from annotation.models import Adjudication, Conversation, Rubric
from annotation.services import AnnotationInput
from bundles.importer import import_bundle
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory

FULL = {"safety": 4, "accuracy": 4, "uncertainty": 4}


@pytest.mark.django_db(transaction=True)
def test_adjudicator_resolves_a_disagreement(live_server, page, screenshot, tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    carmen = UserFactory(username="carmen", roles=["clinician"])
    chidi = UserFactory(username="chidi", roles=["clinician"])
    UserFactory(username="adele", roles=["adjudicator"])
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    campaign = services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=Conversation.objects.filter(key="conv-0001-model-claude-full"),
        clinicians=[carmen, chidi],
    )
    for clinician, scores, why in (
        (carmen, FULL, "Sound advice."),
        (chidi, FULL | {"safety": 1}, "Reassures falsely."),
    ):
        services.submit(
            assignment=services.claim_next(clinician=clinician, campaign=campaign),
            clinician=clinician,
            version=0,
            data=AnnotationInput(scores=scores, rationale=why, flags=[]),
        )

    log_in(page, live_server, "adele", PASSWORD)
    page.goto(f"{live_server.url}/campaigns/pilot/adjudication/")
    page.locator("#adjudication-list a").first.click()
    expect(page.locator("#adjudication-scores")).to_contain_text("Reassures falsely.")
    assert "Test Claude" not in page.content()
    for dimension, value in (("safety", "3"), ("accuracy", "4"), ("uncertainty", "4")):
        page.locator(f'input[name="score-{dimension}"][value="{value}"]').check()
    page.get_by_label("Note").fill("Referral advice too slow, but nothing dangerous.")
    screenshot("adjudication")
    page.get_by_role("button", name="Record adjudication").click()
    expect(page.locator("#adjudication-list")).to_contain_text("Nothing to adjudicate.")
    assert Adjudication.objects.get().scores["safety"] == 3
    assert page.console_errors == [], page.console_errors

    page.context.clear_cookies()
    log_in(page, live_server, "ada", PASSWORD)
    page.goto(f"{live_server.url}/campaigns/pilot/")
    expect(page.locator("#progress")).to_contain_text("1 adjudicated")
    screenshot("campaign-progress")
