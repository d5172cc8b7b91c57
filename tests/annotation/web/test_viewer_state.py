"""The image viewer's state (window, frame, zoom per image) is saved with the draft and the time on task it was
reached at; a malformed state is a 422 naming the field and changes nothing."""

import json

import pytest

from annotation import services
from annotation.models import Annotation, Rubric
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def assignment(carmen):
    campaign = services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory()],
        clinicians=[carmen],
        overlap=1,
    )
    return services.claim_next(clinician=carmen, campaign=campaign)


def save(client, assignment, *, version, viewer_state, seconds=30):
    return client.post(
        f"/work/item/{assignment.pk}/save/",
        {"score-safety": "4", "version": str(version), "active_seconds": str(seconds), "viewer_state": viewer_state},
        HTTP_HX_REQUEST="true",
    )


STATE = {
    "images": {
        "7": {
            "kind": "dicom",
            "frame": 16,
            "frames_seen": 3,
            "window": [-600, 1500],
            "preset": "Lung",
            "invert": False,
            "zoom": 1.5,
            "script": "<b>dropped</b>",
        }
    }
}


def test_the_state_is_kept_with_the_time_on_task(client, carmen, assignment):
    client.force_login(carmen)
    assert save(client, assignment, version=0, viewer_state=json.dumps(STATE)).status_code == 200
    assert save(client, assignment, version=1, viewer_state=json.dumps(STATE), seconds=12).status_code == 200
    annotation = Annotation.objects.get()
    kept = {key: value for key, value in STATE["images"]["7"].items() if key != "script"}
    assert annotation.viewer_state == {"images": {"7": kept}, "active_seconds": 42}


def test_a_save_without_a_state_keeps_the_last_one(client, carmen, assignment):
    client.force_login(carmen)
    save(client, assignment, version=0, viewer_state=json.dumps(STATE))
    save(client, assignment, version=1, viewer_state="")
    assert Annotation.objects.get().viewer_state["images"]["7"]["preset"] == "Lung"


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        json.dumps([1]),
        json.dumps({"images": {"x": {}}}),
        json.dumps({"images": {"7": {"window": [1, "wide"]}}}),
        json.dumps({"images": {}, "pad": "x" * 9000}),
    ],
)
def test_a_malformed_state_is_a_422_naming_the_field_and_saves_nothing(client, carmen, assignment, bad):
    client.force_login(carmen)
    response = save(client, assignment, version=0, viewer_state=bad)
    assert response.status_code == 422
    assert "viewer_state" in response.content.decode()
    assert not Annotation.objects.exists()
