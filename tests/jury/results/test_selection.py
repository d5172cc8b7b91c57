"""Drawing a campaign's conversations for clinicians from its jury scores: probabilities recorded once, review
items at probability 1 under the active design, batches that never draw a conversation twice, and estimates that
leave out clinician scores from before the selection."""

import numpy as np
import pytest

from annotation import selectors as annotation_selectors
from annotation import services as annotation_services
from annotation.models import QueueEntry, Selection
from jury.results.inference import campaign_conversations
from jury.results.inputs import clinician_targets
from jury.results.selection import select_for_clinicians
from jury.statistics.inference import ipw_weights
from tests.jury.results.test_inference import DIMENSIONS, seed_biased_world

pytestmark = pytest.mark.django_db


def test_selecting_records_each_chosen_conversations_probability_once():
    campaign = seed_biased_world()
    annotation_services.set_sampling_design(campaign=campaign, design="active")
    chosen = select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=1, pool=60)
    rows = {s.conversation_id: s for s in Selection.objects.filter(campaign=campaign)}
    assert set(rows) == set(chosen) and chosen
    assert all(0 < s.probability <= 1 and s.design == "active" for s in rows.values())
    assert all(s.probability == 1 for s in rows.values() if s.review)
    before = {cid: s.probability for cid, s in rows.items()}
    annotation_services.set_sampling_design(campaign=campaign, design="uniform")
    select_for_clinicians(campaign=campaign, budget=0.5, dimensions=DIMENSIONS, seed=2)
    after = dict(Selection.objects.filter(campaign=campaign).values_list("conversation_id", "probability"))
    assert {cid: after[cid] for cid in before} == before


def test_a_later_batch_draws_only_conversations_no_earlier_draw_considered():
    campaign = seed_biased_world()
    annotation_services.set_sampling_design(campaign=campaign, design="active")
    select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=1, pool=60)
    first = annotation_selectors.considered_conversations(campaign=campaign)
    assert len(first) == 60
    recorded = dict(Selection.objects.filter(campaign=campaign).values_list("conversation_id", "probability"))
    second = select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=2, pool=40)
    assert not set(second) & first
    assert len(annotation_selectors.considered_conversations(campaign=campaign)) == campaign.conversations.count()
    after = dict(Selection.objects.filter(campaign=campaign).values_list("conversation_id", "probability"))
    assert {cid: after[cid] for cid in recorded} == recorded
    with pytest.raises(ValueError, match="left to draw"):
        select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=3)


def test_the_estimate_leaves_out_clinician_scores_from_before_the_selection_and_weights_the_rest_by_1_over_pi():
    campaign = seed_biased_world()
    scored = set(clinician_targets(campaign=campaign, dimensions=DIMENSIONS).conversation_ids)
    members = sorted(campaign.conversations.values_list("pk", flat=True))
    chosen = {cid: 0.4 for cid in members[::3]}
    annotation_services.record_selection(campaign=campaign, probabilities=chosen, considered=members)
    found = campaign_conversations(campaign=campaign, dimensions=DIMENSIONS)
    in_estimate = {cid for cid, y in zip(found.conversation_ids, found.data.labels.scores, strict=True)
                   if not np.isnan(y).all()}  # fmt: skip
    assert in_estimate == scored & set(chosen)
    assert found.left_out == len(scored - set(chosen)) > 0
    pi = found.data.selection_probability
    rows = [found.conversation_ids.index(cid) for cid in in_estimate]
    weights = ipw_weights(pi, ~np.isnan(found.data.labels.scores).all(1))
    assert np.allclose(weights[rows], 1 / 0.4)
    assert (weights[[i for i in range(len(pi)) if i not in rows]] == 0).all()


def test_review_items_are_recorded_and_queued_most_likely_unsafe_first():
    campaign = seed_biased_world()
    annotation_services.set_sampling_design(campaign=campaign, design="active")
    select_for_clinicians(campaign=campaign, budget=0.3, dimensions=DIMENSIONS, seed=1)
    rows = list(Selection.objects.filter(campaign=campaign))
    review = [s for s in rows if s.review]
    assert len(review) >= 5
    assert all(s.priority == s.probability for s in rows if not s.review)
    assert all(0 <= s.priority <= 1 for s in review)
    found = campaign_conversations(campaign=campaign, dimensions=DIMENSIONS, probabilities=False)
    safety = np.nanmean(found.data.judge_scores[:, :, DIMENSIONS.index("safety")], axis=1)
    jury = dict(zip(found.conversation_ids, safety, strict=True))
    priority = np.array([s.priority for s in review])
    mean = np.array([jury[s.conversation_id] for s in review])
    assert np.corrcoef(priority, mean)[0, 1] < -0.5  # the lower the jury's safety, the sooner served
    queued = list(QueueEntry.objects.filter(campaign=campaign, review=True).order_by("-priority", "shuffle"))
    recorded = {s.conversation_id: s.priority for s in review}
    assert {e.conversation_id for e in queued} == set(recorded)
    assert [e.priority for e in queued] == sorted(recorded.values(), reverse=True)
    assert all(e.priority == recorded[e.conversation_id] for e in queued)  # ties (P(unsafe) ≈ 1) go to the shuffle
