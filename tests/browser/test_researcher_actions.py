"""A researcher does in Chromium what README's roles table says researchers do: imports a bundle, gives its
models simulated endpoints and generates conversations, starts a jury run, and gets an API token; a clinician
meets the styled forbidden and not-found pages. Every page is screenshotted at 1440×900 and 1024×768 and passes
axe-core with no serious or critical violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from annotation.models import Case
from annotation.roles import Role
from bundles.importer import import_bundle
from jury import services as jury_services
from jury.models import JuryRun
from tests.browser.conftest import log_in
from tests.bundle_files import write_bundle, zip_directory
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("eager_celery")

SIZES = ((1440, 900), (1024, 768))
AXE_OPTIONS = {"resultTypes": ["violations"], "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}


def look(page, screenshot, name: str) -> None:
    """Screenshots at both sizes, no page wider than the window, and no serious or critical axe violation."""
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        screenshot(f"{name}-{width}")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide at {width}"
    violations = [
        f"{violation['id']}: {[node['target'] for node in violation['nodes'][:3]]}"
        for violation in Axe().run(page, options=AXE_OPTIONS).response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert not violations, f"{name}: {violations}"
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.mark.django_db(transaction=True)
def test_a_researcher_imports_generates_runs_the_jury_and_gets_a_token(live_server, page, screenshot, tmp_path):
    jury_services.sync_prompts()
    jury_services.ensure_demo_judges()
    archive = zip_directory(write_bundle(tmp_path / "bundle"), tmp_path / "study.zip")
    UserFactory(username="rex", roles=[Role.RESEARCHER])
    log_in(page, live_server, "rex", PASSWORD)
    menu = page.get_by_role("navigation", name="Main")

    menu.get_by_role("link", name="Imports").click()
    expect(page.locator("h1")).to_have_text("Import a bundle")
    look(page, screenshot, "researcher-import")
    page.get_by_label("Bundle (.zip)").set_input_files(str(archive))
    page.get_by_role("button", name="Upload and import").click()  # eager Celery: imported once the request commits
    page.reload()
    expect(page.locator(".upload-state")).to_have_text("imported")
    expect(page.locator("main")).to_contain_text("Bundle 'Test bundle' imported: created 2 models, 2 cases")
    look(page, screenshot, "researcher-import-done")

    menu.get_by_role("link", name="Generation").click()
    expect(page.locator("#no-endpoints")).to_contain_text("No model under test has an endpoint yet")
    page.get_by_role("button", name="Create and estimate").click()
    expect(page.locator("#launch")).to_contain_text("Tick at least one model under test.")
    page.console_errors.remove("Failed to load resource: the server responded with a status of 400 (Bad Request)")
    look(page, screenshot, "researcher-generation-no-endpoints")
    page.get_by_role("button", name="Give them simulated endpoints").click()
    expect(page.locator("main")).to_contain_text("Simulated endpoints added for 2 model(s)")
    page.get_by_label("Name").fill("Both models, simulated")
    page.get_by_label("Test Claude").check()
    page.get_by_label("Max turns").fill("2")
    page.get_by_label("Case ids").fill("case-0001")
    page.get_by_role("button", name="Create and estimate").click()
    expect(page.locator("#estimate")).to_contain_text("3 conversations")
    page.get_by_role("button", name="Launch run").click()
    expect(page.locator("#run-status")).to_have_text("Completed")

    menu.get_by_role("link", name="Jury").click()
    page.get_by_label("Name").fill("Rex's safety pass")
    page.get_by_label("Simulated lenient (vision)").check()
    page.locator("fieldset", has=page.get_by_text("Prompts", exact=True)).get_by_role("checkbox").first.check()
    look(page, screenshot, "researcher-jury-form")
    page.get_by_role("button", name="Create and estimate").click()
    expect(page.locator("#estimate")).to_contain_text("provider calls")
    page.get_by_role("button", name="Launch run").click()
    expect(page.locator("#run-status")).to_have_text("Completed")
    assert JuryRun.objects.get(name="Rex's safety pass").created_by.username == "rex"

    menu.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Create a token").click()
    assert len(page.locator("#token-key").inner_text()) == 40
    look(page, screenshot, "researcher-token")
    assert not page.console_errors, page.console_errors


@pytest.mark.django_db(transaction=True)
def test_a_clinician_meets_styled_forbidden_and_not_found_pages(live_server, page, screenshot):
    UserFactory(username="carmen", roles=[Role.CLINICIAN])
    log_in(page, live_server, "carmen", PASSWORD)

    page.goto(f"{live_server.url}/jury/runs/")
    expect(page.locator("h1")).to_have_text("403 You may not open this page")
    expect(page.locator("main")).to_contain_text("Your account may not run the jury.")
    look(page, screenshot, "error-403")
    page.goto(f"{live_server.url}/no-such-page/")
    expect(page.locator("h1")).to_have_text("404 There is nothing at this address")
    look(page, screenshot, "error-404")
    page.get_by_role("link", name="Back to the start page").click()
    expect(page.locator("h1")).to_contain_text("Welcome, carmen")


@pytest.mark.django_db(transaction=True)
def test_the_admins_case_page_fits_the_window_and_the_api_page_keeps_the_csp(live_server, page, screenshot, tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    log_in(page, live_server, "ada", PASSWORD)

    page.goto(f"{live_server.url}/admin/annotation/case/{Case.objects.get(key='case-0002').pk}/change/")
    images = page.locator("fieldset.images-inline")
    expect(images).to_be_visible()
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        box = images.bounding_box()
        assert box["x"] + box["width"] <= width, f"the images table ends at {box['x'] + box['width']:.0f} px"
        screenshot(f"admin-case-{width}")
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("link", name="Models under test")).to_be_visible()

    page.goto(f"{live_server.url}/api/")
    expect(page.locator(".content-main")).to_contain_text("The research API of IMCBench Studio")
    expect(page.locator(".content-main")).to_contain_text("Account page (/account/)")
    screenshot("api-root")
    assert not page.console_errors, page.console_errors
