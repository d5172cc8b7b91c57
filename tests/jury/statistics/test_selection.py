"""Sampling designs for clinician time: the floor, the budget, targeted review, the PPI weights 1/π and a bounded
coverage check of the active design on simulated data with a known truth. Pure: no database."""

import numpy as np
import pytest

from jury.statistics.inference import JuryConversations, ipw_weights, ppi_leaderboard
from jury.statistics.selection import (
    DESIGNS,
    draw,
    expected_error,
    queue_order,
    review_mask,
    selection_probabilities,
    strata,
)
from jury.statistics.simulation import Scenario, simulate


def _judges(seed=0, n=400):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(2.6, 5, n)
    spread = np.where(rng.random(n) < 0.2, 1.5, 0.3)
    return np.clip(np.round(truth[:, None] + rng.normal(0, 1, (n, 4)) * spread[:, None]), 3, 5)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("budget", [20, 80, 200])
def test_every_probability_is_at_least_the_floor_and_they_sum_to_the_budget(design, budget):
    x = _judges()
    stratum = strata(np.arange(400) % 4, np.repeat(["full", "no_image"], 200))
    pi = selection_probabilities(design, judge_scores=x, budget=budget, floor=0.02, stratum=stratum)
    assert pi.min() >= 0.02 - 1e-12
    assert pi.max() <= 1
    assert pi.sum() == pytest.approx(budget, rel=1e-6)


def test_active_gives_more_to_the_conversations_the_judges_disagree_on():
    x = _judges()
    pi = selection_probabilities("active", judge_scores=x, budget=60)
    spread = np.nanstd(x, axis=1)
    assert pi[spread > 0.8].mean() > 1.5 * pi[spread < 0.3].mean()


def test_review_items_are_sent_with_probability_one():
    x = _judges()
    x[:5, 0] = 2  # a judge scores safety ≤ 2
    x[5:10] = [[3, 5, 5, 5]] * 5  # judges disagree by 2 points
    review = review_mask(x)
    assert review[:10].all()
    budget = review.sum() + 40
    pi = selection_probabilities("active", judge_scores=x, budget=budget, review=review)
    assert (pi[review] == 1).all()
    assert pi.sum() == pytest.approx(budget, rel=1e-6)
    chosen, _ = draw(pi, seed=3)
    assert set(np.flatnonzero(review)) <= set(chosen)
    assert list(queue_order(chosen, review=review, priority=np.ones(400))[: review.sum()]) == list(
        np.flatnonzero(review)
    )


def test_draw_is_seeded_and_returns_the_probabilities_it_used():
    pi = selection_probabilities("active", judge_scores=_judges(), budget=80)
    first, recorded = draw(pi, seed=11)
    again, _ = draw(pi, seed=11)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(recorded, pi)


def test_the_ppi_weights_are_one_over_the_recorded_probability():
    pi = selection_probabilities("active", judge_scores=_judges(), budget=80)
    chosen, pi = draw(pi, seed=5)
    scored = np.zeros(pi.size, dtype=bool)
    scored[chosen] = True
    weights = ipw_weights(pi, scored)
    np.testing.assert_allclose(weights[chosen], 1 / pi[chosen])
    assert (weights[~scored] == 0).all()


def test_expected_error_grows_with_the_judges_spread_and_near_the_decision_point():
    calm, torn = expected_error([[4, 4, 4, 4]]), expected_error([[2, 5, 3, 5]])
    far, near = expected_error([[4.5, 4.5]]), expected_error([[2.5, 2.5]])
    assert torn[0] > calm[0] and near[0] > far[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"design": "random", "budget": 10},
        {"design": "active", "budget": 0},
        {"design": "active", "budget": 10_000},
        {"design": "active", "budget": 10, "floor": 0.5},
        {"design": "stratified", "budget": 10},
    ],
)
def test_bad_input_raises(kwargs):
    with pytest.raises(ValueError):
        selection_probabilities(kwargs.pop("design"), judge_scores=_judges(), **kwargs)


def test_the_active_design_covers_the_truth_within_tolerance():
    """Bounded: 12 replications × 8 models of the uneven scenario at a 20 % budget (about 96 intervals)."""
    scenario = Scenario(bias="global", n_cases=100, subgroup_fraction=0.2, judge_sd_scale=0.25, subgroup_shift=1.5)
    hits = []
    for seed in range(12):
        sim = simulate(scenario, seed=seed)
        x, labels = sim.data.judge_scores, sim.data.labels
        pi = selection_probabilities("active", judge_scores=x, budget=0.2 * x.shape[0])
        chosen, pi = draw(pi, seed=seed)
        clinician = np.full(sim.clinicians.shape, np.nan)
        clinician[chosen] = sim.clinicians[chosen]
        data = JuryConversations.build(
            case=labels.case,
            model=labels.model,
            family=labels.family,
            condition=labels.condition,
            judge_scores=x,
            clinician=clinician,
            dimensions=labels.dimensions,
            selection_probability=pi,
        )
        truth = sim.truth[("full", "safety")]
        for e in ppi_leaderboard(data, n_resamples=300, seed=seed).table():
            if e.ppi.ci:
                hits.append(e.ppi.ci[0] <= truth[e.name] <= e.ppi.ci[1])
    assert len(hits) >= 80
    assert 0.85 <= np.mean(hits) <= 1.0
