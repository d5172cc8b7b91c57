"""Prediction-powered leaderboard inference: agreement with the reference package, coverage on simulated data
with a known truth, the honest edges and bad input. Pure: no database."""

import numpy as np
import pytest
from ppi_py import ppi_mean_pointestimate

from jury.statistics.inference import (
    JuryConversations,
    ipw_weights,
    ppi_ablation_deltas,
    ppi_leaderboard,
    ppi_mean,
    ppi_subgroup_deltas,
)
from jury.statistics.simulation import Scenario, simulate


def _reference(y, f, *, w=None):
    """θ̂ and λ of ppi_py with the labelled conversations a subset of all (λ recovered from the linear θ(λ))."""
    scored = ~np.isnan(y)
    args = (y[scored], f[scored], f)
    theta = float(np.squeeze(ppi_mean_pointestimate(*args, w=w)))
    at0 = float(np.squeeze(ppi_mean_pointestimate(*args, lam=0, w=w)))
    at1 = float(np.squeeze(ppi_mean_pointestimate(*args, lam=1, w=w)))
    return theta, (theta - at0) / (at1 - at0)


def _group(seed=0, n=400, fraction=0.25):
    rng = np.random.default_rng(seed)
    truth = rng.normal(3, 0.7, n)
    jury = truth + 0.4 + rng.normal(0, 0.5, n)
    clinician = np.where(rng.random(n) < fraction, truth + rng.normal(0, 0.3, n), np.nan)
    return clinician, jury


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppi_mean_and_lambda_match_the_reference_package(seed):
    clinician, jury = _group(seed)
    theta, lam = ppi_mean(clinician, jury)
    expected_theta, expected_lam = _reference(clinician, jury)
    assert theta == pytest.approx(expected_theta, abs=1e-10)
    assert lam == pytest.approx(expected_lam, abs=1e-8)
    assert 0 < lam < 1


def test_ipw_ppi_mean_matches_the_reference_package_with_weights_one_over_pi():
    clinician, jury = _group(3)
    scored = ~np.isnan(clinician)
    rng = np.random.default_rng(3)
    h = 1 / rng.uniform(0.05, 0.6, scored.sum())
    pi = np.full(jury.size, np.nan)
    pi[scored] = 1 / h
    theta, lam = ppi_mean(clinician, jury, selection_probability=pi)
    expected_theta, expected_lam = _reference(clinician, jury, w=h)
    assert theta == pytest.approx(expected_theta, abs=1e-10)
    assert lam == pytest.approx(expected_lam, abs=1e-8)


def test_the_leaderboard_point_estimate_is_ppi_on_each_model():
    sim = simulate(Scenario(bias="per_model", n_cases=80, clinician_fraction=0.3), seed=5)
    board = ppi_leaderboard(sim.data, method="equal", n_resamples=50, seed=0)
    jury = np.asarray(sim.data.judge_scores[:, :, 0]).mean(1)
    clinician = np.asarray(sim.data.labels.scores[:, 0])
    for estimate in board.table():
        own = sim.data.labels.model == estimate.name
        theta, lam = _reference(clinician[own], jury[own])
        assert estimate.ppi.value == pytest.approx(theta, abs=1e-9)
        assert estimate.lam == pytest.approx(lam, abs=1e-8)
        assert estimate.clinicians.value == pytest.approx(np.nanmean(clinician[own]))
        assert estimate.n_clinician == int((~np.isnan(clinician[own])).sum())
        assert estimate.n_jury == int(own.sum())


def test_each_dimension_refits_its_own_method_and_judge_weights():
    sim = simulate(Scenario(n_cases=60, clinician_fraction=0.3, dimensions=("safety", "accuracy")), seed=2)
    k = sim.data.judge_scores.shape[1]
    single = np.eye(k)[0]
    mixed = ppi_leaderboard(
        sim.data,
        method={"safety": "isotonic", "accuracy": "affine"},
        judge_weights={"accuracy": single},
        n_resamples=40,
        seed=3,
    )
    assert mixed.method == {"safety": "isotonic", "accuracy": "affine"}
    alone = {
        "safety": ppi_leaderboard(sim.data, method="isotonic", n_resamples=40, seed=3),
        "accuracy": ppi_leaderboard(sim.data, judge_weights=single, n_resamples=40, seed=3),
    }
    for dimension, board in alone.items():
        assert [e.as_dict() for e in mixed.table(dimension=dimension)] == [
            e.as_dict() for e in board.table(dimension=dimension)
        ]
    overall = {e.name: e.ppi.value for e in mixed.table(dimension="overall")}
    for estimate in mixed.table(dimension="safety"):
        other = next(e for e in mixed.table(dimension="accuracy") if e.name == estimate.name)
        assert overall[estimate.name] == pytest.approx((estimate.ppi.value + other.ppi.value) / 2)
    with pytest.raises(ValueError, match="exactly the dimensions"):
        ppi_leaderboard(sim.data, method={"safety": "affine"}, n_resamples=10, seed=0)


def test_ipw_weights_are_one_over_pi_on_the_clinician_scored_conversations():
    pi = np.array([0.5, 0.25, 0.1, np.nan])
    scored = np.array([True, True, False, False])
    np.testing.assert_allclose(ipw_weights(pi, scored), [2.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(ipw_weights(None, scored), [1.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="selection_probability"):
        ipw_weights(np.array([0.0, 0.5, 0.1, 0.1]), scored)


def _coverage(scenario, reps, resamples=300):
    hits = {"ppi": [], "jury": [], "clinicians": []}
    widths = {name: [] for name in hits}
    for seed in range(reps):
        sim = simulate(scenario, seed=seed)
        truth = sim.truth[("full", scenario.dimensions[0])]
        for estimate in ppi_leaderboard(sim.data, n_resamples=resamples, seed=seed).table():
            for name in hits:
                low, high = getattr(estimate, name).ci
                hits[name].append(low <= truth[estimate.name] <= high)
                widths[name].append(high - low)
    return {name: np.mean(value) for name, value in hits.items()}, {k: np.mean(v) for k, v in widths.items()}


def test_ppi_intervals_cover_the_truth_where_the_jury_only_intervals_do_not():
    """Per-model jury bias (sd 0.3): 40 replications × 8 models. Nominal 95 %; the tolerance allows for the
    320 intervals' sampling error, and today's jury-only intervals fail it."""
    coverage, width = _coverage(Scenario(bias="per_model", n_cases=150, clinician_fraction=0.2), reps=40)
    assert 0.89 <= coverage["ppi"] <= 0.99
    assert coverage["jury"] < 0.6
    assert width["ppi"] < 0.9 * width["clinicians"]


def test_too_few_clinician_scores_give_a_reason_not_a_number():
    sim = simulate(Scenario(bias="global", n_cases=40, clinician_fraction=0.1), seed=0)
    board = ppi_leaderboard(sim.data, n_resamples=50, seed=0, min_clinician=10)
    short = [e for e in board.estimates if e.n_clinician < 10]
    assert short, "the scenario should leave some models with fewer than 10 clinician scores"
    for estimate in short:
        for stat in (estimate.ppi, estimate.clinicians, estimate.transport):
            assert stat.value is None and stat.ci is None
            assert "fewer than the 10" in stat.undefined_reason
        assert estimate.ess_ppi is None and estimate.rank is None and estimate.lam is None
        assert estimate.jury.value is not None
    assert all(e.ppi.value is not None for e in board.estimates if e.n_clinician >= 10)


def test_the_transport_check_flags_a_model_the_pooled_calibration_misses():
    sim = simulate(Scenario(bias="per_model", n_cases=300, clinician_fraction=0.3, model_bias_sd=0.6), seed=2)
    board = ppi_leaderboard(sim.data, n_resamples=300, seed=0)
    flagged = [e for e in board.table() if e.transport_flag]
    assert flagged
    for estimate in flagged:
        assert estimate.transport.ci[0] > 0 or estimate.transport.ci[1] < 0


def test_deltas_recover_the_simulated_ablation_and_a_null_subgroup():
    scenario = Scenario(bias="per_model", n_cases=200, clinician_fraction=0.3, conditions=("full", "no_image"))
    sim = simulate(scenario, seed=1)
    truth = sim.truth[("no_image", "safety")]["model-3"] - sim.truth[("full", "safety")]["model-3"]
    deltas = ppi_ablation_deltas(sim.data, conditions=("no_image",), n_resamples=300, seed=0)
    average = [d for d in deltas if d.model is None][0]
    low, high = average.ppi.ci
    assert low < truth < high and high < 0
    assert len(deltas) == 9 and all(d.n_clinician > 0 for d in deltas)
    member = np.array([int(c.split("-")[1]) % 2 == 0 for c in sim.data.labels.case])
    subgroup = ppi_subgroup_deltas(sim.data, subgroup=member, n_resamples=300, seed=0)
    low, high = [d for d in subgroup if d.model is None][0].ppi.ci
    assert low < 0 < high


def test_the_same_seed_gives_the_same_board_and_families_are_reported():
    sim = simulate(Scenario(n_cases=60, clinician_fraction=0.3), seed=0)
    first = ppi_leaderboard(sim.data, n_resamples=40, seed=7, method="isotonic").as_dict()
    assert first == ppi_leaderboard(sim.data, n_resamples=40, seed=7, method="isotonic").as_dict()
    assert {e["kind"] for e in first["estimates"]} == {"model", "family"}


def _small():
    return dict(
        case=["a", "a", "b", "b"],
        model=["m", "n", "m", "n"],
        family=["f", "g", "f", "g"],
        condition=["full"] * 4,
        judge_scores=[[3, 4], [2, 2], [5, 4], [1, 2]],
        clinician=[3, np.nan, 4, 2],
        dimensions=["safety"],
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"judge_scores": [[3, 4], [2, 2], [5, 4]]}, "judge_scores"),
        ({"clinician": [3, np.inf, 4, 2]}, "infinite"),
        ({"selection_probability": [0.5, 0.5, 1.5, 0.5]}, "selection_probability"),
        ({"selection_probability": [np.nan, 0.5, 0.5, 0.5]}, "selection_probability"),
        ({"judges": ["x", "x"]}, "distinct"),
    ],
)
def test_bad_input_raises(change, message):
    with pytest.raises(ValueError, match=message):
        JuryConversations.build(**{**_small(), **change})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "weighted"}, "method"),
        ({"min_clinician": 1}, "min_clinician"),
        ({"n_resamples": 1}, "n_resamples"),
        ({"condition": "no_ehr"}, "condition"),
        ({"judge_weights": [-1, 2]}, "judge_weights"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    data = JuryConversations.build(**_small())
    with pytest.raises(ValueError, match=message):
        ppi_leaderboard(data, seed=0, **{"n_resamples": 10, **kwargs})


def test_ppi_mean_rejects_bad_input():
    with pytest.raises(ValueError, match="two clinician-scored"):
        ppi_mean([np.nan, 1.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="lam"):
        ppi_mean([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], lam=2.0)
    with pytest.raises(ValueError, match="shape"):
        ppi_mean([1.0, 2.0], [1.0, 2.0, 3.0])
