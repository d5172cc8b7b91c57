"""Generation run pages: who may see and launch, the launch flow, live progress partials, provenance on the
conversation page."""

import pytest
from django.urls import reverse

from generation import runner, services
from generation.models import GenerationRun, ModelEndpoint
from tests.factories import ModelUnderTestFactory, make_case, make_model
from tests.runs import start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def world(db):
    return [make_case("case-0001"), make_case("case-0002")], [make_model("sim-a"), make_model("sim-b")]


def test_outsiders_clinicians_and_adjudicators_are_refused(client, otto, carmen, adele, world):
    run = services.create_run(name="r", models=world[1][:1])
    for user in (otto, carmen, adele):
        client.force_login(user)
        assert client.get(reverse("generation:list")).status_code == 403
        assert client.get(reverse("generation:detail", args=[run.pk])).status_code == 403
        assert client.post(reverse("generation:create"), {}).status_code == 403
        assert client.post(reverse("generation:launch", args=[run.pk])).status_code == 403


def test_a_researcher_creates_estimates_launches_and_reads_a_run(
    client, rex, world, django_capture_on_commit_callbacks
):
    client.force_login(rex)
    page = client.get(reverse("generation:list")).content.decode()
    assert "New run" in page and "sim-a" in page and "dermatology" in page
    response = client.post(
        reverse("generation:create"),
        {
            "name": "Two models",
            "models": [m.pk for m in world[1]],
            "conditions": ["full", "no_image"],
            "specialties": ["dermatology"],
            "case_keys": "case-0001, case-0002",
            "max_turns": 3,
            "seed": 4,
            "patient_provider": "simulated",
            "patient_model_id": "simulated/patient",
            "patient_input_price": "0",
            "patient_output_price": "0",
        },
    )
    run = GenerationRun.objects.get(name="Two models")
    assert response.status_code == 302 and response["Location"] == reverse("generation:detail", args=[run.pk])
    assert run.status == GenerationRun.Status.DRAFT and run.items.count() == 2 * 2 * 2
    assert run.case_selection == {"keys": ["case-0001", "case-0002"], "specialties": ["dermatology"]}
    page = client.get(reverse("generation:detail", args=[run.pk])).content.decode()
    assert (
        "8 conversations" in page and "at most 42 provider calls" in page
    )  # 8 × 3 model calls, 2 openings and 8 × 2 patient calls and "Launch run" in page
    assert "Simulated." in page and 'hx-trigger="every 2s"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("generation:launch", args=[run.pk]), {"budget": "5"})
    run.refresh_from_db()
    assert response.status_code == 302 and run.status == GenerationRun.Status.COMPLETED and run.budget == 5
    partial = client.get(reverse("generation:detail", args=[run.pk]), headers={"HX-Request": "true"})
    text = partial.content.decode()
    assert text.lstrip().startswith('<section id="run-progress"') and "<html" not in text
    assert "8 / 8 (100%)" in text and f"conv-gen{run.pk}-case-0001-sim-a-full" in text


def test_a_running_run_polls_and_a_form_error_is_shown(client, ada, world):
    run = start(services.create_run(name="running", models=world[1][:1]))
    client.force_login(ada)
    page = client.get(reverse("generation:detail", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "0 / 6 (0%)" in page
    response = client.post(
        reverse("generation:create"),
        {
            "name": "bad",
            "models": [world[1][0].pk],
            "conditions": ["full"],
            "case_keys": "no-such-case",
            "max_turns": 2,
            "seed": 0,
            "patient_provider": "simulated",
            "patient_model_id": "p",
            "patient_input_price": "0",
            "patient_output_price": "0",
        },
    )
    assert response.status_code == 400 and "no case matches the selection" in response.content.decode()


def test_the_conversation_page_shows_where_a_generated_conversation_came_from(client, rex, world):
    run = start(services.create_run(name="provenance", models=world[1][:1], conditions=["no_ehr"]))
    runner.work(run_id=run.pk)
    client.force_login(rex)
    page = client.get(reverse("conversation-detail", args=[f"conv-gen{run.pk}-case-0001-sim-a-no_ehr"]))
    text = page.content.decode()
    assert page.status_code == 200 and "How this conversation was generated" in text
    assert f"generation run {run.pk}" in text and "image sent, record withheld" in text
    assert "persona patient@1" in text and "system prompt model-under-test@1" in text
    assert run.prompts["patient"]["sha256"][:12] in text


def test_a_researcher_gives_models_without_an_endpoint_a_simulated_one(client, rex, db):
    make_case("case-0001")
    bare = ModelUnderTestFactory(key="bare", name="Bare model")
    client.force_login(rex)
    page = client.get(reverse("generation:list")).content.decode()
    assert "No model under test has an endpoint yet" in page and "Without an endpoint: Bare model." in page

    response = client.post(reverse("generation:simulated-endpoints"))

    assert response.status_code == 302 and ModelEndpoint.objects.get(model_under_test=bare).provider == "simulated"
    page = client.get(reverse("generation:list")).content.decode()
    assert "Simulated endpoints added for 1 model(s): Bare model." in page
    assert f'value="{bare.pk}"' in page and "Without an endpoint" not in page


def test_a_run_with_no_model_ticked_says_so(client, rex, world):
    client.force_login(rex)

    response = client.post(reverse("generation:create"), {"name": "none", "conditions": ["full"], "max_turns": 2})

    page = response.content.decode()
    assert response.status_code == 400 and "Tick at least one model under test." in page
    assert "This field is required." not in page.split('id="launch"')[1].split("Patient simulator")[0]
