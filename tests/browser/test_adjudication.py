"""Adjudication in Chromium: the workspace's image, profile and transcript panes beside each clinician's scores,
rationale and flags and the rubric's anchors; the queue by disagreement with progress; a recorded decision reopened,
changed and kept in its history; axe and screenshots at 1440×900 and 1024×768; an admin watches campaign progress."""

import pytest
from playwright.sync_api import expect

from annotation import services
from annotation.models import Adjudication, Conversation, Rubric
from annotation.services import AnnotationInput
from bundles.importer import import_bundle
from tests.browser.axe import serious_violations
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory

FULL = {"safety": 4, "accuracy": 4, "uncertainty": 4}
SIZES = ((1440, 900), (1024, 768))


@pytest.fixture
def disputed(tmp_path):
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
    for clinician, scores, why, flags in (
        (carmen, FULL, "Sound advice.", []),
        (chidi, FULL | {"safety": 1}, "Reassures falsely.", [{"turn": 4, "kind": "unsafe advice", "note": "Too slow"}]),
    ):
        services.submit(
            assignment=services.claim_next(clinician=clinician, campaign=campaign),
            clinician=clinician,
            version=0,
            data=AnnotationInput(scores=scores, rationale=why, flags=flags),
        )
    return campaign


def no_model_named(page, campaign) -> None:
    html = page.content()
    for conversation in campaign.conversations.select_related("model"):
        for secret in (conversation.model.name, conversation.model.family, conversation.key):
            assert secret not in html, secret
        assert "no_image" not in html and "No image" not in html


@pytest.mark.django_db(transaction=True)
def test_adjudicator_decides_beside_the_workspace_panes_then_revises_with_history(
    live_server, page, screenshot, disputed
):
    log_in(page, live_server, "adele", PASSWORD)
    queue_url = f"{live_server.url}/campaigns/pilot/adjudication/"
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(queue_url)
        row = page.locator("#adjudication-list tbody tr").first
        expect(row).to_contain_text("Safety")
        expect(row).to_contain_text("1, 4")
        expect(row.locator("td").nth(3)).to_have_text("3")
        expect(page.locator("#adjudication-progress")).to_contain_text("0 of 1 adjudicated")
        no_model_named(page, disputed)
        assert serious_violations(page) == []
        screenshot(f"adjudication-queue-{width}x{height}")

        row.get_by_role("link").click()
        expect(page.locator("#adjudication-scores")).to_contain_text("Reassures falsely.")
        expect(page.locator("#adjudication-scores")).to_contain_text("Turn 4: unsafe advice — Too slow")
        expect(page.locator(".viewer-image").first).to_be_visible()
        expect(page.locator("#turn-4")).to_have_class("turn assistant flagged")
        expect(page.locator("#turn-4 .turn-flags")).to_contain_text("chidi: unsafe advice — Too slow")
        expect(page.get_by_text("Dangerous: gives advice likely to cause harm", exact=False).first).to_be_visible()
        expect(page.locator("label.score-option", has_text="Dangerous").locator(".chosen-by")).to_have_text(
            "chosen by chidi"
        )
        for selector in ("h1", "#adjudication-scores", "[form=adjudication-form]", ".transcript-pane"):
            box = page.locator(selector).first.bounding_box()
            assert box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height, (width, selector)
        assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight"), width
        if width == 1024:
            page.get_by_role("tab", name="Patient profile").click()
            expect(page.get_by_role("heading", name="Patient profile")).to_be_visible()
        no_model_named(page, disputed)
        assert serious_violations(page) == []
        screenshot(f"adjudication-form-{width}x{height}")

    for dimension, value in (("safety", "3"), ("accuracy", "4"), ("uncertainty", "4")):
        page.locator(f'input[name="score-{dimension}"][value="{value}"]').check()
    page.get_by_label("Note").fill("Referral advice too slow, but nothing dangerous.")
    page.get_by_role("button", name="Record adjudication").click()
    expect(page.locator("#adjudication-list")).to_contain_text("Nothing to adjudicate.")
    expect(page.locator("#adjudication-progress")).to_contain_text("1 of 1 adjudicated")
    assert Adjudication.objects.get().scores["safety"] == 3

    page.locator("#adjudicated-list a").first.click()  # reopened: the decision is shown, editable
    assert page.locator('input[name="score-safety"][value="3"]').is_checked()
    expect(page.get_by_label("Note")).to_have_value("Referral advice too slow, but nothing dangerous.")
    page.locator('input[name="score-safety"][value="2"]').check()
    page.get_by_label("Note").fill("On review: unsafe.")
    page.get_by_role("button", name="Record new version").click()
    page.locator("#adjudicated-list a").first.click()
    history = page.locator("#decision-history li")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Version 2")
    expect(history.nth(1)).to_contain_text("Referral advice too slow")
    screenshot("adjudication-reopened-1024x768")
    assert [r.scores["safety"] for r in Adjudication.objects.get().revisions.all()] == [2, 3]
    assert page.console_errors == [], page.console_errors

    page.context.clear_cookies()
    log_in(page, live_server, "ada", PASSWORD)
    page.goto(f"{live_server.url}/campaigns/pilot/")
    expect(page.locator("#progress")).to_contain_text("1 adjudicated")
    screenshot("campaign-progress")
