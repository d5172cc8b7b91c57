"""Sampling designs for clinician time: the floor, the budget, targeted review, the PPI weights 1/π and a bounded
coverage check of the active design on simulated data with a known truth. Pure: no database."""

import numpy as np
import pytest

from jury.statistics.inference import JuryConversations, ipw_weights, ppi_leaderboard
from jury.statistics.inference_bootstrap import features, run_engine
from jury.statistics.selection import (
    DESIGNS,
    batches,
    draw,
    expected_error,
    oracle_probabilities,
    predicted_error,
    queue_order,
    rectifier_variance,
    review_mask,
    review_rules,
    selection_probabilities,
    strata,
    unsafe_probability,
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


def test_review_rules_say_which_rule_each_conversation_meets_and_together_make_the_mask():
    x = np.array([[1, 4], [2, 3], [3, 5], [4, 4], [np.nan, np.nan], [np.nan, 2]], dtype=float)
    unsafe, disagree = review_rules(x)
    assert unsafe.tolist() == [True, True, False, False, False, True]
    assert disagree.tolist() == [True, False, True, False, False, False]
    np.testing.assert_array_equal(review_mask(x), unsafe | disagree)
    with pytest.raises(ValueError, match="disagreement must be positive"):
        review_rules(x, disagreement=0)


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


def test_the_rectifier_variance_is_the_poisson_sampling_variance_of_the_weighted_residual_mean():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 1, 50) * np.where(np.arange(50) < 10, 3.0, 0.5)
    pi = np.clip(rng.uniform(0.05, 1.2, 50), 0.05, 1.0)
    draws = rng.random((100_000, 50)) < pi
    simulated = (draws * r / pi).mean(1).var()
    assert rectifier_variance(residual=r, selection_probability=pi) == pytest.approx(simulated, rel=0.02)
    assert rectifier_variance(residual=r, selection_probability=np.ones(50)) == 0


def test_no_design_with_the_same_budget_has_a_smaller_rectifier_variance_than_the_oracle():
    rng = np.random.default_rng(5)
    r = rng.normal(0, 1, 200) * np.where(np.arange(200) < 20, 4.0, 0.3)
    best = oracle_probabilities(residual=r, budget=40)
    assert best.sum() == pytest.approx(40) and best.max() <= 1
    assert best[np.abs(r).argmax()] == 1  # the largest residuals are sent for sure once c|r| passes 1
    least = rectifier_variance(residual=r, selection_probability=best)
    for design in DESIGNS:
        pi = selection_probabilities(design, judge_scores=_judges(n=200), budget=40, stratum=np.arange(200) % 4)
        assert rectifier_variance(residual=r, selection_probability=pi) >= least
    uniform = rectifier_variance(residual=r, selection_probability=np.full(200, 0.2))
    assert least < 0.5 * uniform
    with pytest.raises(ValueError):
        oracle_probabilities(residual=r, budget=0)


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


def test_the_fitted_error_learns_where_the_calibrated_jury_errs_from_the_residuals_already_scored():
    rng = np.random.default_rng(3)
    n = 600
    hard = np.repeat(rng.random(n // 4) < 0.2, 4)  # whole cases of 4 conversations
    x = np.clip(np.round(3.2 + rng.normal(0, 1, (n, 4)) * np.where(hard, 1.2, 0.2)[:, None]), 1, 5)
    residual = rng.normal(0, np.where(hard, 1.2, 0.3))
    residual[rng.random(n) < 0.7] = np.nan  # 30 % scored so far
    error = predicted_error(x, residual=residual, groups=(np.arange(n) // 4,))
    ratio = error[hard].mean() / error[~hard].mean()
    prior = expected_error(x)
    assert prior[hard].mean() / prior[~hard].mean() < ratio < 5  # the true sd ratio is 4
    few = np.where(np.arange(n) < 5, residual, np.nan)
    assert np.array_equal(predicted_error(x, residual=few), expected_error(x))


def test_the_review_queue_serves_a_reliable_low_jury_score_before_an_unreliable_one():
    p = unsafe_probability(np.array([1.8, 1.8, 3.4, 3.4]), error=np.array([0.3, 1.5, 0.3, 1.5]))
    assert p[0] > p[1] > p[3] > p[2]
    order = queue_order(np.arange(4), review=np.array([False, True, True, True]), priority=p)
    assert list(order) == [1, 3, 2, 0]


def test_batches_are_a_seeded_partition_of_nearly_equal_size():
    b = batches(10, k=3, seed=5)
    assert sorted(np.bincount(b)) == [3, 3, 4]
    assert np.array_equal(b, batches(10, k=3, seed=5))
    with pytest.raises(ValueError):
        batches(3, k=4, seed=0)


def test_the_refitted_calibration_is_fitted_with_the_same_1_over_pi_weights_as_the_rectifier():
    rng = np.random.default_rng(0)
    n = 200
    jury = rng.uniform(1, 5, n)
    y = np.where(rng.random(n) < 0.5, 0.5 + 0.8 * jury + rng.normal(0, 0.3 + (jury > 4), n), np.nan)
    pi = np.where(jury > 4, 0.9, 0.2)
    h = np.where(np.isnan(y), 0.0, 1 / pi)
    feat = features(jury[:, None], method="affine", judge_weights=np.ones(1))
    engine = run_engine(feat, y=y, h=h, case=np.arange(n), key=np.zeros(n, int), n_cases=n, n_keys=1,
                        weights=np.ones((0, n)))  # fmt: skip
    ok = ~np.isnan(y)
    a = np.column_stack([np.ones(ok.sum()), jury[ok]]) * np.sqrt(h[ok])[:, None]
    beta = np.linalg.lstsq(a, y[ok] * np.sqrt(h[ok]), rcond=None)[0]
    assert engine.jury[0, 0] == pytest.approx((beta[0] + beta[1] * jury).mean(), rel=1e-6)
    assert engine.transport[0, 0] == pytest.approx(
        (h * np.nan_to_num(y - beta[0] - beta[1] * jury)).sum() / h.sum(), abs=1e-6
    )


def test_active_selection_in_batches_with_the_fitted_error_covers_the_truth_within_tolerance():
    """Bounded: 10 replications × 8 models of the uneven scenario, 20 % budget in 2 batches, the second batch's π
    from the error model fitted on the first batch's residuals (bench/active.py: 200 replications, 4 batches)."""
    scenario = Scenario(bias="global", n_cases=100, subgroup_fraction=0.2, judge_sd_scale=0.25, subgroup_shift=1.5)
    hits = []
    for seed in range(10):
        sim = simulate(scenario, seed=seed)
        x, labels = sim.data.judge_scores, sim.data.labels
        n = x.shape[0]
        batch = batches(n, k=2, seed=seed)
        pi, y = np.full(n, np.nan), np.full(n, np.nan)
        error = expected_error(x)
        for b in range(2):
            rows = np.flatnonzero(batch == b)
            if b:
                jury = np.nanmean(x[:, :, 0], axis=1)
                ok = ~np.isnan(y)
                fit = np.polyfit(jury[ok], y[ok], 1, w=np.sqrt(1 / pi[ok]))
                error = predicted_error(x, residual=y - np.polyval(fit, jury), groups=(labels.case,))
            pi[rows] = selection_probabilities("active", judge_scores=x[rows], budget=0.2 * rows.size,
                                               error=error[rows])  # fmt: skip
            sent = rows[draw(pi[rows], seed=seed + b)[0]]
            y[sent] = sim.clinicians[sent, 0]
        data = JuryConversations.build(
            case=labels.case, model=labels.model, family=labels.family, condition=labels.condition, judge_scores=x,
            clinician=y[:, None], dimensions=labels.dimensions, selection_probability=pi,
        )  # fmt: skip
        truth = sim.truth[("full", "safety")]
        hits += [
            e.ppi.ci[0] <= truth[e.name] <= e.ppi.ci[1]
            for e in ppi_leaderboard(data, n_resamples=200, seed=seed).table()
            if e.ppi.ci
        ]
    assert len(hits) >= 60
    assert 0.85 <= np.mean(hits) <= 1.0


def test_review_compares_judges_each_averaged_over_its_prompt_variants():
    # columns: judge a with two prompts, judge b with two prompts
    x = np.array([[2.0, 4.0, 3.0, 3.0], [2.0, 2.0, 4.0, 4.0], [3.0, 5.0, 3.0, 3.0]])
    judge_of = ["a", "a", "b", "b"]
    unsafe, disagree = review_rules(x, judge_of=judge_of)
    assert list(unsafe) == [False, True, False] and list(disagree) == [False, True, False]
    assert review_mask(x).all()  # one prompt's 2, or one prompt's wording 2 points from another's, flags alone
    with pytest.raises(ValueError):
        review_rules(x, judge_of=["a", "b"])
