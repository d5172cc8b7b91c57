"""Scores posted by the workspace and the adjudication form: only the ASCII digits 1–5, one parser for both."""

import pytest

from annotation import selectors, services
from annotation.models import Adjudication, Annotation, Rubric
from annotation.services import AnnotationError, AnnotationInput
from annotation.web.scores import InvalidScore, parse_score, parse_turn, scores_from
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

FULL = {"safety": 4, "accuracy": 4, "uncertainty": 4}
NOT_SCORES = [" 3", "3 ", "3\n", "٣", "３", "۳", "3.5", "3.0", "abc", "0", "6", "+3", "-1", "03", "1e0", "²", " "]


@pytest.mark.parametrize("raw", ["1", "2", "3", "4", "5"])
def test_the_ascii_digits_one_to_five_are_scores(raw):
    assert parse_score(raw, field="score-safety") == int(raw)


@pytest.mark.parametrize("raw", NOT_SCORES)
def test_anything_else_is_refused_naming_the_field(raw):
    with pytest.raises(InvalidScore, match="score-safety") as refused:
        parse_score(raw, field="score-safety")
    assert isinstance(refused.value, AnnotationError) and refused.value.field == "score-safety"


def test_scores_from_skips_unscored_dimensions_and_names_the_bad_one():
    posted = {"score-safety": "4", "score-accuracy": "", "score-uncertainty": "٣"}
    with pytest.raises(InvalidScore, match="Uncertainty \\(score-uncertainty\\)"):
        scores_from(posted, [("safety", "Safety"), ("accuracy", "Accuracy"), ("uncertainty", "Uncertainty")])
    assert scores_from({"score-safety": "4", "score-accuracy": ""}, [("safety", "Safety"), ("accuracy", "A")]) == {
        "safety": 4
    }


def campaign_for(clinicians, conversations=1):
    return services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(conversations)],
        clinicians=clinicians,
        overlap=2,
    )


@pytest.mark.parametrize("raw", [" 3", "٣", "３", "3.5"])
def test_the_workspace_refuses_unicode_and_padded_digits_and_writes_nothing(client, carmen, raw):
    campaign = campaign_for([carmen])
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    client.force_login(carmen)
    url = f"/work/item/{assignment.pk}/save/"
    response = client.post(url, {"score-safety": raw, "version": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "score-safety" in response.content.decode()
    form = {"score-safety": raw, "score-accuracy": "4", "score-uncertainty": "4", "rationale": "ok"}
    client.post(url, form | {"action": "submit", "version": "0"})
    assert not Annotation.objects.exists()


@pytest.fixture
def disputed(carmen, chidi):
    campaign = campaign_for([carmen, chidi])
    for clinician, scores in ((carmen, FULL), (chidi, FULL | {"safety": 1})):
        services.submit(
            assignment=services.claim_next(clinician=clinician, campaign=campaign),
            clinician=clinician,
            version=0,
            data=AnnotationInput(scores=scores, rationale="because", flags=[]),
        )
    return campaign


@pytest.mark.parametrize("raw", ["abc", "3.5", " 3", "٣", "３", "6"])
def test_the_adjudication_form_answers_422_naming_the_field_and_records_nothing(client, adele, disputed, raw):
    [conversation_id] = selectors.needs_adjudication(campaign=disputed)
    client.force_login(adele)
    response = client.post(
        f"/campaigns/pilot/adjudication/{conversation_id}/",
        {"score-safety": raw, "score-accuracy": "4", "score-uncertainty": "4", "note": "Agreed in panel."},
    )
    assert response.status_code == 422
    assert "score-safety" in response.content.decode()
    assert not Adjudication.objects.exists()


@pytest.mark.parametrize("raw", ["1", "12", "9999"])
def test_the_ascii_digits_are_turn_numbers(raw):
    assert parse_turn(raw) == int(raw)


@pytest.mark.parametrize("raw", ["", "0", " 3", "3 ", "٣", "３", "3.0", "-1", "10000", "abc"])
def test_anything_else_is_not_a_turn_number(raw):
    with pytest.raises(AnnotationError, match="is not a turn number"):
        parse_turn(raw)
