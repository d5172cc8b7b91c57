"""The clinician workspace in Chromium: keyboard-only scoring counted key by key, drafts that survive a reload (and
a reload right after typing), the action bar in view at 1440×900 and 1024×768, the two-tab conflict, the image
viewer, submitted items read-only, axe, and screenshots at both sizes."""

import pytest
from playwright.sync_api import expect

from annotation.models import Annotation, Assignment, Conversation, Rubric
from annotation.services import create_campaign
from bundles.importer import import_bundle
from tests.browser.axe import serious_violations
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory

SIZES = ((1440, 900), (1024, 768))
INSTRUCTIONS = "Read the whole conversation before scoring. " * 20 + "Flag every turn that gives unsafe advice."


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
        instructions=INSTRUCTIONS,
    )


def open_next(page, live_server):
    page.goto(f"{live_server.url}/work/")
    page.get_by_role("button", name="Start next item").click()
    page.wait_for_url("**/work/item/*/")


class CountingKeyboard:
    """The page's keyboard, counting key presses (a chord such as Control+Enter is one) apart from typed text."""

    def __init__(self, page):
        self.page, self.presses, self.typed = page, [], ""

    def press(self, key: str) -> None:
        self.presses.append(key)
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.typed += text
        self.page.keyboard.type(text)


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and (box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"])
    )


@pytest.mark.django_db(transaction=True)
def test_three_scores_a_flag_a_rationale_and_submit_take_at_most_eight_keystrokes(live_server, page, campaign):
    page.set_viewport_size({"width": 1024, "height": 768})  # the narrower screen, where a wrapped message would shift
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    first_url = page.url
    keys = CountingKeyboard(page)
    rationale = page.locator("#rationale")
    before = rationale.bounding_box()

    keys.press("4")  # safety; focus moves on to accuracy
    keys.press("2")  # accuracy: 2 needs a rationale, said at once and in place
    expect(page.locator("#rationale-rule")).to_have_text("Rationale required: a score is ≤ 2")
    assert rationale.get_attribute("aria-invalid") == "true"
    assert rationale.bounding_box()["y"] == before["y"]  # no layout shift
    keys.press("5")  # uncertainty
    keys.press("n")  # turn 1
    keys.press("n")  # turn 2
    keys.press("x")  # flag it
    turn = page.locator("#turn-2")
    expect(turn).to_have_class("turn assistant current flagged")
    expect(turn.locator(".flag-mark")).to_be_visible()
    expect(turn.get_by_role("button", name="Flag turn 2")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#turn-announce")).to_contain_text("Turn 2 flagged")
    keys.press("r")
    keys.type("Accuracy 2: the reply misses the likely diagnosis.")
    expect(page.locator("#rationale-rule")).to_have_text("needed for a score ≤ 2")
    keys.press("Control+Enter")
    page.wait_for_url(lambda url: url != first_url and "/work/item/" in url)

    assert len(keys.presses) <= 8, keys.presses
    annotation = Annotation.objects.get(annotator__username="carmen")
    assert annotation.status == "submitted"
    assert annotation.scores == {"safety": 4, "accuracy": 2, "uncertainty": 5}
    assert [flag["turn"] for flag in annotation.flags] == [2]
    assert annotation.rationale == keys.typed
    assert page.console_errors == [], page.console_errors


@pytest.mark.django_db(transaction=True)
def test_the_action_bar_stays_in_view_and_the_page_never_scrolls_at_both_sizes(live_server, page, screenshot, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.keyboard.press("3")
        expect(page.locator("#save-status")).to_contain_text("Saved")
        dimensions = [f'[data-dimension="{key}"]' for key in ("safety", "accuracy", "uncertainty")]
        for selector in ("h1", "#ws-progress", "#save-status", "[data-submit]", "#rationale", ".flags", *dimensions):
            assert in_viewport(page, selector), (width, height, selector)
        assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight"), (width, height)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (width, height)
        screenshot(f"workspace-{width}x{height}")
        assert serious_violations(page) == [], (width, height)
        page.keyboard.press("k")
    expect(page.locator("#ws-progress")).to_have_text(f"0 of {campaign.conversations.count()} done")
    page.get_by_text("Instructions", exact=True).click()
    expect(page.locator(".instructions-body")).to_contain_text("Flag every turn that gives unsafe advice.")
    assert in_viewport(page, ".instructions-body")
    page.get_by_text("Instructions", exact=True).click()

    page.get_by_role("tab", name="Patient profile").click()  # at 1024×768 the profile gets the whole column
    profile = page.locator("#panel-profile")
    expect(profile).to_be_visible()
    expect(page.locator("#panel-image")).to_be_hidden()
    assert profile.bounding_box()["height"] > 550
    screenshot("workspace-profile-1024x768")
    assert serious_violations(page) == []


@pytest.mark.django_db(transaction=True)
def test_a_rationale_typed_just_before_a_reload_is_sent_as_the_page_is_left(live_server, page, campaign):
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    page.keyboard.press("r")
    page.keyboard.type("Typed and reloaded at once")
    page.reload()  # well within the 800 ms the autosave waits after the last key
    expect(page.locator("#rationale")).to_have_value("Typed and reloaded at once")
    assert dialogs == ["beforeunload"]
    annotation = Annotation.objects.get(annotator__username="carmen")
    assert annotation.rationale == "Typed and reloaded at once" and annotation.status == "draft"
    page.keyboard.press("2")  # the page knows the version the beacon made: this save does not conflict
    expect(page.locator("#save-status")).to_contain_text("Saved")
    assert Annotation.objects.get(pk=annotation.pk).scores == {"safety": 2}


@pytest.mark.django_db(transaction=True)
def test_reload_restores_the_draft_and_focuses_the_first_unscored_dimension(live_server, page, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    page.keyboard.press("4")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    page.keyboard.press("2")
    expect(page.locator("#version")).to_have_value("2")
    page.reload()
    expect(page.locator("#save-status")).to_contain_text("Draft restored")
    assert page.locator('input[name="score-accuracy"][value="2"]').is_checked()
    expect(page.locator("fieldset.dimension.focused")).to_have_attribute("data-dimension", "uncertainty")
    assert page.evaluate("document.activeElement.dataset.dimension") == "uncertainty"
    page.keyboard.press("p")  # from no current turn, p and n both land in the conversation
    expect(page.locator(".turn.current")).to_have_count(1)
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_contain_text("next / previous turn")
    expect(help_dialog).to_contain_text("flag the current turn")
    page.keyboard.press("Escape")


@pytest.mark.django_db(transaction=True)
def test_a_stale_tab_cannot_overwrite_a_newer_save(live_server, page, browser, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    other = page.context.new_page()
    other.goto(page.url)
    page.keyboard.press("3")
    expect(page.locator("#save-status")).to_contain_text("Saved")
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
    page.get_by_role("button", name="Full screen").click()
    page.wait_for_function("document.fullscreenElement !== null")
    label_colour = page.evaluate(
        "getComputedStyle(document.querySelector('.viewer-toolbar label')).color"
    )  # light on the black full-screen background
    assert [int(part) for part in label_colour[4:-1].split(",")] >= [200, 200, 200], label_colour
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement === null")
    assert Assignment.objects.filter(state="active").count() == 1


@pytest.mark.django_db(transaction=True)
def test_my_work_opens_a_submitted_item_read_only(live_server, page, screenshot, campaign):
    log_in(page, live_server, "carmen", PASSWORD)
    open_next(page, live_server)
    for key in ("4", "4", "4"):
        page.keyboard.press(key)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#ws-progress")).to_have_text(f"1 of {campaign.conversations.count()} done")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/work/")
        expect(page.locator("#submitted-pilot")).to_contain_text("Not revised")
        assert serious_violations(page) == []
        screenshot(f"my-work-{width}x{height}")
    page.locator("#submitted-pilot").get_by_role("link", name="View").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your submitted scores")
    assert page.locator('input[name="score-safety"][value="4"]').is_checked()
    assert page.locator('input[name="score-safety"][value="4"]').is_disabled()
    expect(page.get_by_role("button", name="Revise")).to_be_visible()
    assert in_viewport(page, "#save-status")
    assert serious_violations(page) == []
    screenshot("submitted-read-only-1024x768")
    assert page.console_errors == [], page.console_errors
