"""The clinician workspace in Chromium: keyboard-only scoring, drafts that survive a reload, submit, next item,
the two-tab conflict, the image viewer, and screenshots at 1440×900 and 1024×768."""

import pytest
from playwright.sync_api import expect

from annotation.models import Annotation, Assignment, Conversation, Rubric
from annotation.services import create_campaign
from bundles.importer import import_bundle
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory


@pytest.fixture
def campaign(tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    carmen = UserFactory(username="carmen", roles=["clinician"])
    return create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=Conversation.objects.filter(condition="full"),
        clinicians=[carmen],
        overlap=1,
    )


def open_next(page, live_server):
    page.goto(f"{live_server.url}/work/")
    page.get_by_role("button", name="Start next item").click()
    page.wait_for_url("**/work/item/*/")


@pytest.mark.django_db(transaction=True)
def test_clinician_scores_with_the_keyboard_reloads_and_submits(live_server, page, screenshot, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    first_url = page.url
    assert "Test Claude" not in page.content() and "model-claude" not in page.content()

    page.keyboard.press("4")  # safety
    expect(page.locator("#save-status")).to_contain_text("Saved (version 1)")
    page.keyboard.press("2")  # accuracy
    expect(page.locator("#save-status")).to_contain_text("Saved (version 2)")
    screenshot("workspace-1440x900")

    page.reload()
    expect(page.locator("#save-status")).to_contain_text("Draft restored (version 2)")
    assert page.locator('input[name="score-safety"][value="4"]').is_checked()
    assert page.locator('input[name="score-accuracy"][value="2"]').is_checked()

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("5")  # uncertainty
    expect(page.locator("#save-status")).to_contain_text("Saved (version 3)")
    page.keyboard.press("r")
    page.keyboard.type("Accuracy 2: the reply missed the likely diagnosis; typing 1 2 3 here scores nothing.")
    expect(page.locator("#save-status")).to_contain_text("Saved (version 4)")
    assert page.locator('input[name="score-accuracy"][value="2"]').is_checked()
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(lambda url: url != first_url and "/work/item/" in url)

    annotation = Annotation.objects.get(annotator__username="carmen")
    assert annotation.status == "submitted"
    assert annotation.scores == {"safety": 4, "accuracy": 2, "uncertainty": 5}
    assert annotation.rationale.startswith("Accuracy 2: the reply missed")
    assert annotation.revisions.count() == 1
    assert page.console_errors == [], page.console_errors


@pytest.mark.django_db(transaction=True)
def test_a_stale_tab_cannot_overwrite_a_newer_save(live_server, page, browser, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    other = page.context.new_page()
    other.goto(page.url)
    page.keyboard.press("3")
    expect(page.locator("#save-status")).to_contain_text("Saved (version 1)")
    other.keyboard.press("1")
    expect(other.locator("#save-status")).to_contain_text("saved elsewhere (version 1)")
    assert Annotation.objects.get(annotator__username="carmen").scores == {"safety": 3}


@pytest.mark.django_db(transaction=True)
def test_the_viewer_zooms_and_fits_the_small_screen(live_server, page, screenshot, campaign):
    page.set_viewport_size({"width": 1024, "height": 768})
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    expect(page.locator('.viewer-item[data-image-index="0"] .viewer-image').first).to_be_attached()
    scale = "document.querySelector('[data-viewer]').viewerScale()"  # panzoom's scale, or the DICOM camera's zoom
    before = page.evaluate(scale)
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_timeout(400)
    assert page.evaluate(scale) > before * 1.3
    page.keyboard.press("0")
    page.wait_for_timeout(400)
    assert abs(page.evaluate(scale) - before) < 0.02
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot("workspace-1024x768")
    assert Assignment.objects.filter(state="active").count() == 1
