"""Sampling designs in a campaign: selection probabilities recorded once and never changed, a design switch that
keeps them, and the review queue served first under the active design."""

import pytest

from annotation import selectors, services
from annotation.models import AuditEvent, Campaign, Rubric, Selection
from annotation.services import AnnotationError
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def make_campaign(clinicians, *, conversations=6):
    return services.create_campaign(
        key="designs",
        name="Designs",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(conversations)],
        clinicians=clinicians,
        overlap=1,
    )


def test_a_new_campaign_is_uniform_and_records_nothing(carmen):
    campaign = make_campaign([carmen])
    assert campaign.sampling_design == Campaign.SamplingDesign.UNIFORM
    assert selectors.selection_probabilities(campaign=campaign) == {}


def test_recorded_probabilities_are_never_changed(carmen):
    campaign = make_campaign([carmen])
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    assert services.record_selection(campaign=campaign, probabilities={ids[0]: 0.2, ids[1]: 1.0}, review=[ids[1]]) == 2
    assert services.record_selection(campaign=campaign, probabilities={ids[0]: 0.9, ids[2]: 0.5}) == 1
    assert selectors.selection_probabilities(campaign=campaign) == {ids[0]: 0.2, ids[1]: 1.0, ids[2]: 0.5}
    row = Selection.objects.get(campaign=campaign, conversation_id=ids[0])
    row.probability = 0.7
    with pytest.raises(ValueError, match="never changed"):
        row.save()
    assert Selection.objects.get(pk=row.pk).probability == 0.2


def test_a_design_switch_mid_campaign_keeps_the_recorded_probabilities(carmen):
    campaign = make_campaign([carmen])
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    services.record_selection(campaign=campaign, probabilities={ids[0]: 0.3})
    services.set_sampling_design(campaign=campaign, design="active", actor=carmen)
    services.record_selection(campaign=campaign, probabilities={ids[0]: 1.0, ids[1]: 0.6})
    rows = {s.conversation_id: (s.probability, s.design) for s in Selection.objects.filter(campaign=campaign)}
    assert rows == {ids[0]: (0.3, "uniform"), ids[1]: (0.6, "active")}
    assert AuditEvent.objects.filter(action="set_sampling_design", target="designs").exists()
    with pytest.raises(AnnotationError):
        services.set_sampling_design(campaign=campaign, design="whatever")


@pytest.mark.parametrize(
    "probabilities, review",
    [({0: 0.0}, []), ({0: 1.5}, []), ({0: 0.5}, [0]), ({-1: 0.5}, [])],
)
def test_bad_selections_are_refused(carmen, probabilities, review):
    campaign = make_campaign([carmen])
    first = campaign.conversations.order_by("pk").first().pk
    resolve = {-1: 10**9}
    shifted = {resolve.get(k, first + k): p for k, p in probabilities.items()}
    with pytest.raises(AnnotationError):
        services.record_selection(campaign=campaign, probabilities=shifted, review=[first + r for r in review])
    assert not Selection.objects.exists()


def test_active_serves_the_review_queue_first(carmen):
    campaign = make_campaign([carmen])
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    flagged = [ids[-1], ids[2]]
    services.record_selection(campaign=campaign, probabilities={i: 1.0 for i in ids}, review=flagged)
    services.set_sampling_design(campaign=campaign, design="active")
    served = []
    for _ in range(2):
        assignment = services.claim_next(clinician=carmen, campaign=campaign)
        served.append(assignment.conversation_id)
        services.skip(assignment=assignment, clinician=carmen, reason="test")
    assert sorted(served) == sorted(flagged)


def test_once_a_design_has_selected_only_the_selected_conversations_are_served(carmen):
    campaign = make_campaign([carmen])
    ids = list(campaign.conversations.order_by("pk").values_list("pk", flat=True))
    services.record_selection(campaign=campaign, probabilities={ids[1]: 0.4, ids[4]: 0.4})
    served = []
    while assignment := services.claim_next(clinician=carmen, campaign=campaign):
        served.append(assignment.conversation_id)
        services.skip(assignment=assignment, clinician=carmen, reason="test")
    assert sorted(served) == [ids[1], ids[4]]
