"""A researcher launches a simulated generation run in Chromium, watches it finish live, and opens a generated
conversation with its provenance."""

import pytest
from playwright.sync_api import expect

from generation import runner, services
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import UserFactory, make_case, make_model
from tests.runs import start

pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.mark.django_db(transaction=True)
def test_a_researcher_launches_generation_and_reads_a_generated_conversation(live_server, page, screenshot):
    from annotation.roles import Role

    for key in ("case-0001", "case-0002"):
        make_case(key)
    models = [make_model("sim-a"), make_model("sim-b")]
    UserFactory(username="rex", roles=[Role.RESEARCHER])
    log_in(page, live_server, "rex", PASSWORD)

    page.goto(f"{live_server.url}/generation/runs/")
    page.get_by_label("Name").fill("Two simulated models")
    page.get_by_label("sim-a").check()
    page.get_by_label("sim-b").check()
    page.get_by_label("Max turns").fill("3")
    screenshot("generation-launch-form")
    page.get_by_role("button", name="Create and estimate").click()
    expect(page.locator("#estimate")).to_contain_text("12 conversations")
    expect(page.locator("#estimate")).to_contain_text("at most 62 provider calls")
    screenshot("generation-estimate")
    page.get_by_role("button", name="Launch run").click()  # eager Celery: the run completes within the request
    expect(page.locator("#count-done")).to_have_text("12 / 12 (100%)")
    expect(page.locator("#run-status")).to_have_text("Completed")
    screenshot("generation-complete")

    # A run in progress: the partial polls every 2 s and follows the work done behind it.
    run = start(services.create_run(name="In progress", models=models, conditions=["no_image"], seed=9))
    page.goto(f"{live_server.url}/generation/runs/{run.pk}/")
    expect(page.locator("#count-done")).to_have_text("0 / 4 (0%)")
    runner.work(run_id=run.pk, max_items=2)
    expect(page.locator("#count-done")).not_to_have_text("0 / 4 (0%)", timeout=5000)
    screenshot("generation-progress")
    runner.work(run_id=run.pk)
    runner.finish_if_done(run_id=run.pk)
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=5000)
    expect(page.locator("#run-progress")).not_to_have_attribute("hx-trigger", "every 2s")

    page.get_by_role("link", name=f"conv-gen{run.pk}-case-0001-sim-a-no_image").click()
    expect(page.locator("#provenance")).to_contain_text("image withheld, record sent")
    expect(page.locator(".transcript li").first).to_contain_text("[simulated]")
    screenshot("generation-conversation-provenance")
    assert page.console_errors == [], page.console_errors
