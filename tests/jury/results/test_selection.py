"""Drawing a campaign's conversations for clinicians from its jury scores: probabilities recorded once, review
items at probability 1 under the active design."""

import pytest

from annotation import services as annotation_services
from annotation.models import Selection
from jury.results.selection import select_for_clinicians
from tests.jury.results.test_inference import DIMENSIONS, seed_biased_world

pytestmark = pytest.mark.django_db


def test_selecting_records_each_chosen_conversations_probability_once():
    campaign = seed_biased_world()
    annotation_services.set_sampling_design(campaign=campaign, design="active")
    chosen = select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=1)
    rows = {s.conversation_id: s for s in Selection.objects.filter(campaign=campaign)}
    assert set(rows) == set(chosen) and chosen
    assert all(0 < s.probability <= 1 and s.design == "active" for s in rows.values())
    assert all(s.probability == 1 for s in rows.values() if s.review)
    before = {cid: s.probability for cid, s in rows.items()}
    annotation_services.set_sampling_design(campaign=campaign, design="uniform")
    select_for_clinicians(campaign=campaign, budget=0.5, dimensions=DIMENSIONS, seed=2)
    after = dict(Selection.objects.filter(campaign=campaign).values_list("conversation_id", "probability"))
    assert {cid: after[cid] for cid in before} == before
