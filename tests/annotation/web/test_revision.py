"""A submitted annotation changes only through revise → submit: autosave never touches it, and revising again
hands back the same item instead of opening another."""

import pytest
from rest_framework.test import APIClient

from annotation import services
from annotation.models import Annotation, Assignment, Rubric
from annotation.services import AnnotationInput
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

FULL = {"safety": 4, "accuracy": 3, "uncertainty": 5}


@pytest.fixture
def submitted(carmen):
    campaign = services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory(), ConversationFactory()],
        clinicians=[carmen],
        overlap=1,
    )
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    services.submit(
        assignment=assignment,
        clinician=carmen,
        version=0,
        data=AnnotationInput(scores=FULL, rationale="Sound advice.", flags=[]),
    )
    return assignment


def test_autosave_on_a_submitted_item_answers_409_and_changes_nothing(client, carmen, rex, submitted):
    client.force_login(carmen)
    url = f"/work/item/{submitted.pk}/save/"
    partial = {"score-safety": "1", "rationale": "", "version": "1"}
    response = client.post(url, partial, headers={"HX-Request": "true"})
    assert response.status_code == 409 and "is submitted" in response.content.decode()
    plain = client.post(url, partial | {"action": "save"}, follow=True)
    assert "is submitted" in plain.content.decode()
    annotation = Annotation.objects.get()
    assert (annotation.status, annotation.scores, annotation.rationale) == ("submitted", FULL, "Sound advice.")
    api = APIClient()
    api.force_authenticate(rex)
    [served] = api.get("/api/annotations/").json()["results"]
    assert served["scores"] == FULL and served["rationale"] == "Sound advice."


def test_a_revision_is_submitted_whole_and_its_page_does_not_autosave(client, carmen, submitted):
    client.force_login(carmen)
    annotation = Annotation.objects.get()
    item = client.post(f"/work/annotations/{annotation.pk}/revise/").url
    page = client.get(item).content.decode()
    assert 'data-autosave="off"' in page and 'value="save"' not in page and 'value="submit"' in page
    save = f"{item}save/"
    client.post(save, {"score-safety": "2", "rationale": "", "version": "1", "action": "submit"})
    assert Annotation.objects.get().scores == FULL, "an incomplete revision is refused"
    form = {"score-safety": "2", "score-accuracy": "3", "score-uncertainty": "5", "rationale": "Missed a red flag."}
    client.post(save, form | {"version": "1", "action": "submit"})
    annotation.refresh_from_db()
    assert annotation.scores == FULL | {"safety": 2} and annotation.version == 2


def test_revising_three_times_keeps_one_active_item(client, carmen, submitted):
    client.force_login(carmen)
    annotation = Annotation.objects.get()
    urls = {client.post(f"/work/annotations/{annotation.pk}/revise/").url for _ in range(3)}
    active = Assignment.objects.filter(clinician=carmen, conversation=annotation.conversation, state="active")
    assert active.count() == 1 and urls == {f"/work/item/{active.get().pk}/"}
