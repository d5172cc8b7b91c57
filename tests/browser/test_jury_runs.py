"""An admin launches a simulated jury run in Chromium and watches its progress update live (htmx polling)."""

import pytest
from playwright.sync_api import expect

from annotation.services import ensure_roles_and_default_rubric
from jury import runner, services
from jury.models import JudgePrompt, JuryRun
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.usefixtures("eager_celery")


@pytest.fixture
def jury_data(db):
    ensure_roles_and_default_rubric()
    services.sync_prompts()
    judges = services.ensure_demo_judges()
    for index in range(4):
        conversation = ConversationFactory()
        conversation.extra = {"demo_quality": {"safety": 1 + index, "accuracy": 3, "uncertainty": 4}}
        conversation.save()
    return judges


@pytest.mark.django_db(transaction=True)
def test_admin_launches_a_run_and_sees_live_progress(live_server, page, screenshot, jury_data):
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    log_in(page, live_server, "ada", PASSWORD)

    page.goto(f"{live_server.url}/jury/runs/")
    page.get_by_label("Name").fill("Safety, two judges")
    page.get_by_label("Simulated lenient (vision)").check()
    page.get_by_label("Simulated harsh (vision)").check()
    for prompt in JudgePrompt.objects.filter(dimension="safety"):
        page.get_by_label(prompt.reference).check()
    page.get_by_role("button", name="Create and estimate").click()
    expect(page.locator("#estimate")).to_contain_text("24 provider calls")
    screenshot("runs:estimate")
    page.get_by_role("button", name="Launch run").click()  # eager Celery: the run completes within the request
    expect(page.locator("#count-done")).to_have_text("24 / 24 (100%)")
    expect(page.locator("#run-status")).to_have_text("Completed")

    # A run in progress: the partial polls every 2 s and follows the work done behind it.
    run = services.create_run(
        name="Accuracy, in progress",
        judges=jury_data[:2],
        prompts=list(JudgePrompt.objects.filter(dimension="accuracy")),
    )
    JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.RUNNING)
    page.goto(f"{live_server.url}/jury/runs/{run.pk}/")
    expect(page.locator("#count-done")).to_have_text("0 / 24 (0%)")
    runner.work(run_id=run.pk, max_items=10)
    expect(page.locator("#count-done")).to_contain_text("/ 24", timeout=5000)
    expect(page.locator("#count-done")).not_to_have_text("0 / 24 (0%)", timeout=5000)
    screenshot("jury-run-progress")
    runner.work(run_id=run.pk)
    runner.finish_if_done(run_id=run.pk)
    expect(page.locator("#run-status")).to_have_text("Completed", timeout=5000)
    expect(page.locator("#run-progress")).not_to_have_attribute("hx-trigger", "every 2s")
    screenshot("jury-run-complete")
    assert page.console_errors == [], page.console_errors
