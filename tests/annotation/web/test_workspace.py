"""The clinician's next item is claimed only by a POST; a GET changes nothing. The workspace page says where the
clinician is, a save sent as the page is left passes CSRF, and submitted items open read-only."""

import pytest
from django.test import Client

from annotation import services
from annotation.models import Annotation, Assignment, Rubric
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(carmen):
    return services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(2)],
        clinicians=[carmen],
        overlap=1,
    )


def test_a_get_of_next_claims_nothing_and_offers_a_post_button(client, carmen, campaign):
    client.force_login(carmen)
    response = client.get("/work/pilot/next/")
    assert response.status_code == 200
    assert not Assignment.objects.exists()
    html = response.content.decode()
    assert '<form method="post" action="/work/pilot/next/">' in html and "csrfmiddlewaretoken" in html


def test_a_post_of_next_claims_and_opens_the_item(client, carmen, campaign):
    client.force_login(carmen)
    response = client.post("/work/pilot/next/")
    assignment = Assignment.objects.get(clinician=carmen)
    assert response.status_code == 302 and response.url == f"/work/item/{assignment.pk}/"
    assert client.post("/work/pilot/next/").url == response.url  # the live lease is handed back


def test_a_claim_and_its_page_run_a_fixed_number_of_queries_whatever_the_campaign_size(
    client, carmen, django_assert_max_num_queries
):
    small = services.create_campaign(
        key="small", name="Small", rubric=Rubric.objects.get(is_default=True), clinicians=[carmen], overlap=1,
        conversations=[ConversationFactory() for _ in range(2)],
    )  # fmt: skip
    large = services.create_campaign(
        key="large", name="Large", rubric=Rubric.objects.get(is_default=True), clinicians=[carmen], overlap=1,
        conversations=[ConversationFactory() for _ in range(60)],
    )  # fmt: skip
    client.force_login(carmen)
    for campaign in (small, large):
        # session, user, roles, campaign; the claim's seven (membership and drafts, leases, candidate, its slots,
        # three writes) and its savepoint pair
        with django_assert_max_num_queries(13):
            response = client.post(f"/work/{campaign.key}/next/")
        # session, user, roles; the assignment with the progress, turns, images, dimensions; the annotation
        with django_assert_max_num_queries(8):
            page = client.get(response.url)
        assert f"<strong>0 of {campaign.conversations.count()}</strong> done" in page.content.decode()
        Assignment.objects.filter(clinician=carmen, campaign=campaign).update(state=Assignment.State.SUBMITTED)


def test_the_claim_needs_a_csrf_token(carmen, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(carmen)
    assert client.post("/work/pilot/next/").status_code == 403
    assert not Assignment.objects.exists()


def test_my_work_starts_and_continues_with_a_post_form(client, carmen, campaign):
    client.force_login(carmen)
    html = client.get("/work/").content.decode()
    assert '<form method="post" action="/work/pilot/next/">' in html
    assert 'href="/work/pilot/next/"' not in html


FULL = {"safety": 4, "accuracy": 2, "uncertainty": 5}
LONG_INSTRUCTIONS = "Score each conversation against the rubric. " * 12 + "The last sentence is shown too."


@pytest.fixture
def instructed(carmen, chidi):
    return services.create_campaign(
        key="guided",
        name="Guided",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(3)],
        clinicians=[carmen, chidi],
        overlap=2,
        instructions=LONG_INSTRUCTIONS,
    )


def submit(assignment, clinician, scores=FULL, rationale="Accuracy 2: wrong diagnosis."):
    return services.submit(
        assignment=assignment,
        clinician=clinician,
        version=0,
        data=services.AnnotationInput(
            scores=scores, rationale=rationale, flags=[{"turn": 2, "kind": "other", "note": ""}]
        ),
    )


def test_the_workspace_has_a_heading_progress_full_instructions_and_the_first_unscored_dimension(
    client, carmen, instructed
):
    submit(services.claim_next(clinician=carmen, campaign=instructed), carmen)
    assignment = services.claim_next(clinician=carmen, campaign=instructed)
    services.save_draft(
        assignment=assignment, clinician=carmen, version=0, data=services.AnnotationInput({"safety": 3}, "", [])
    )
    client.force_login(carmen)
    html = client.get(f"/work/item/{assignment.pk}/").content.decode()
    assert "<h1>Score this conversation" in html
    assert "<strong>1 of 3</strong> done" in html
    assert '<details class="instructions"' in html and "The last sentence is shown too." in html
    assert 'data-first-unscored="accuracy"' in html
    assert 'data-error="Rationale required: a score is ≤ 2"' in html


def test_a_beacon_save_passes_csrf_with_the_token_in_its_body_and_leaves_no_message(carmen, instructed):
    assignment = services.claim_next(clinician=carmen, campaign=instructed)
    client = Client(enforce_csrf_checks=True)
    client.force_login(carmen)
    page = client.get(f"/work/item/{assignment.pk}/")
    token = page.context["csrf_token"]
    url = f"/work/item/{assignment.pk}/save/"
    beacon = {"score-safety": "2", "rationale": "Typed just before leaving", "version": "0", "transport": "beacon"}
    assert client.post(url, beacon).status_code == 403  # no token: refused, nothing saved
    assert not Annotation.objects.exists()
    response = client.post(url, beacon | {"csrfmiddlewaretoken": token})
    assert response.status_code == 204 and response.content == b""
    annotation = Annotation.objects.get()
    assert (annotation.version, annotation.rationale) == (1, "Typed just before leaving")
    stale = client.post(url, beacon | {"csrfmiddlewaretoken": token, "rationale": "From an older page"})
    assert stale.status_code == 409 and Annotation.objects.get().rationale == "Typed just before leaving"
    assert "Saved" not in client.get(f"/work/item/{assignment.pk}/").content.decode().split("<main")[1][:400]


def test_submitted_items_open_read_only_for_their_clinician_only(client, carmen, chidi, instructed):
    annotation = submit(services.claim_next(clinician=carmen, campaign=instructed), carmen)
    url = f"/work/annotations/{annotation.pk}/"
    client.force_login(carmen)
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200 and "<h1>Your submitted scores" in html
    assert (
        'name="score-accuracy" value="2" checked' in html and "readonly>Accuracy 2: wrong diagnosis.</textarea>" in html
    )
    assert "hx-post" not in html and "data-submit" not in html
    assert f'action="/work/annotations/{annotation.pk}/revise/"' in html
    assert annotation.conversation.model.name not in html  # the campaign is blinded
    client.force_login(chidi)
    assert client.get(url).status_code == 404


def test_my_work_says_whether_a_submission_was_revised_instead_of_its_save_count(client, carmen, instructed):
    assignment = services.claim_next(clinician=carmen, campaign=instructed)
    for version, rationale in enumerate(("a", "ab", "abc")):
        services.save_draft(
            assignment=assignment,
            clinician=carmen,
            version=version,
            data=services.AnnotationInput({"safety": 3}, rationale, []),
        )
    annotation = services.submit(
        assignment=assignment, clinician=carmen, version=3, data=services.AnnotationInput(FULL, "Final.", [])
    )
    client.force_login(carmen)
    html = client.get("/work/").content.decode()
    table = html.split(f'id="submitted-{instructed.key}"')[1]
    assert annotation.version == 4 and "Version" not in table and ">4<" not in table
    assert "Not revised" in table and f'href="/work/annotations/{annotation.pk}/"' in table
    assert '<th scope="col"></th>' not in html
    reopened = services.reopen(annotation=annotation, clinician=carmen)
    services.submit(
        assignment=reopened, clinician=carmen, version=4, data=services.AnnotationInput(FULL, "Final, revised.", [])
    )
    assert "Revised 1 time" in client.get("/work/").content.decode()
