"""Jury run pages: who may see and launch, the launch flow, live progress partials, cancel and retry."""

import pytest
from django.urls import reverse

from jury import estimates, services, tasks
from jury.models import JudgePrompt, JuryRun, WorkItem
from tests.factories import ConversationFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def jury(db):
    services.sync_prompts()
    judges = services.ensure_demo_judges()
    for index in range(2):
        conversation = ConversationFactory()
        conversation.extra = {"demo_quality": {"safety": 2 + index, "accuracy": 3, "uncertainty": 4}}
        conversation.save()
    return judges


def test_outsiders_and_clinicians_are_refused(client, otto, carmen, jury):
    for user in (otto, carmen):
        client.force_login(user)
        assert client.get(reverse("runs:list")).status_code == 403
        assert client.post(reverse("runs:create"), {}).status_code == 403


def test_a_researcher_creates_estimates_and_launches_a_run(
    client, rex, jury, django_capture_on_commit_callbacks, eager_celery
):
    client.force_login(rex)
    assert b"New run" in client.get(reverse("runs:list")).content
    prompts = JudgePrompt.objects.filter(dimension="safety")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("runs:create"),
            {"name": "Rex's pass", "judges": [jury[0].pk], "prompts": [p.pk for p in prompts], "samples": 1},
        )
    run = JuryRun.objects.get(name="Rex's pass")
    assert response.status_code == 302 and run.created_by == rex
    assert "Launch run" in client.get(reverse("runs:detail", args=[run.pk])).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("runs:launch", args=[run.pk]))

    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED


def test_an_admin_creates_estimates_launches_and_watches_a_run(
    client, ada, jury, django_capture_on_commit_callbacks, eager_celery
):
    client.force_login(ada)
    assert b"New run" in client.get(reverse("runs:list")).content
    prompts = JudgePrompt.objects.filter(dimension="safety")
    with django_capture_on_commit_callbacks(execute=True):  # the estimate runs as a task once the run is saved
        response = client.post(
            reverse("runs:create"),
            {"name": "Safety pass", "judges": [jury[0].pk, jury[2].pk], "prompts": [p.pk for p in prompts]}
            | {"samples": 1},
        )
    run = JuryRun.objects.get(name="Safety pass")
    assert response.status_code == 302 and response["Location"] == reverse("runs:detail", args=[run.pk])
    assert run.status == JuryRun.Status.DRAFT and run.estimate["items"] == 12 and run.estimate["calls"] == 12
    page = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert "12 provider calls" in page and "Launch run" in page and "Simulated judges." in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("runs:launch", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED
    partial = client.get(reverse("runs:detail", args=[run.pk]), headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="run-progress"') and "<html" not in partial
    assert "12 / 12 (100%)" in partial and 'hx-trigger="every 2s"' not in partial  # finished: polling stops


def test_the_run_page_polls_the_estimate_until_it_is_ready(client, ada, jury, eager_celery):
    run = services.create_run(name="r", judges=jury[:1], prompts=list(JudgePrompt.objects.all()[:1]))
    services.request_estimate(run=run)  # outside a transaction's commit: the task has not run yet
    client.force_login(ada)
    page = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert "Estimating" in page and reverse("runs:estimate", args=[run.pk]) in page

    tasks.estimate_run(run.pk)
    partial = client.get(reverse("runs:estimate", args=[run.pk])).content.decode()
    assert partial.lstrip().startswith('<section class="card" id="estimate"') and "<html" not in partial
    assert "2 provider calls" in partial and "hx-trigger" not in partial  # ready: polling stops


def test_a_failed_estimate_says_why(client, ada, jury, monkeypatch):
    run = services.create_run(name="r", judges=jury[:1], prompts=list(JudgePrompt.objects.all()[:1]))

    def broken(*, run):
        raise RuntimeError("the media volume is not mounted")

    monkeypatch.setattr(estimates, "estimate_run", broken)
    tasks.estimate_run(run.pk)
    client.force_login(ada)
    partial = client.get(reverse("runs:estimate", args=[run.pk])).content.decode()
    assert "The estimate failed: RuntimeError: the media volume is not mounted" in partial


def test_a_running_run_polls_every_two_seconds(client, ada, jury):
    run = services.create_run(name="r", judges=jury[:1], prompts=list(JudgePrompt.objects.all()[:1]))
    JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.RUNNING)
    client.force_login(ada)
    partial = client.get(reverse("runs:detail", args=[run.pk]), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in partial and "0 / 2 (0%)" in partial


def test_an_invalid_launch_form_says_why(client, ada, jury):
    client.force_login(ada)
    response = client.post(reverse("runs:create"), {"name": "empty", "samples": 1})
    page = response.content.decode()
    assert response.status_code == 400 and "Tick at least one judge." in page and "Tick at least one prompt." in page
    assert not JuryRun.objects.exists()


def test_cancel_then_retry_from_the_page(client, ada, jury, django_capture_on_commit_callbacks):
    run = services.create_run(name="r", judges=jury[:1], prompts=list(JudgePrompt.objects.all()[:2]))
    client.force_login(ada)
    client.post(reverse("runs:cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == JuryRun.Status.CANCELLED and run.items.filter(status=WorkItem.Status.CANCELLED).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("runs:retry", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED


def test_a_run_stopped_at_its_budget_resumes_with_a_new_one_from_its_page(client, ada, jury, eager_celery):
    run = services.create_run(name="r", judges=jury[:1], prompts=list(JudgePrompt.objects.all()[:1]), budget="0.01")
    JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.BUDGET_STOPPED)
    client.force_login(ada)
    url = reverse("runs:launch", args=[run.pk])
    page = client.post(url, {"budget": "lots"}, follow=True).content.decode()
    assert "&#x27;lots&#x27; is not an amount." in page
    run.refresh_from_db()
    assert run.status == JuryRun.Status.BUDGET_STOPPED and str(run.budget) == "0.0100"

    client.post(url, {"budget": "5"})
    run.refresh_from_db()
    assert run.budget == 5 and run.status != JuryRun.Status.BUDGET_STOPPED
