"""jury.statistics.calibration recovers known judge biases, beats the equal-weight jury only when it should,
never splits a case between training and test, is deterministic, renormalises over missing judges,
and refuses bad input."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from jury.statistics import agreement, calibration
from jury.statistics.calibration import Calibration

nan = np.nan
SCALE = [1, 2, 3, 4, 5]


def simulate(
    *,
    bias: list[float],
    noise: list[float],
    n_cases: int = 120,
    per_case: int = 5,
    clinicians: int = 2,
    missing: float = 0.0,
    seed: int = 0,
):
    """Truth per conversation; judges = truth + bias_j + N(0, noise_j); clinicians = round(truth + small noise)."""
    rng = np.random.default_rng(seed)
    cases = np.repeat([f"case-{c:03d}" for c in range(n_cases)], per_case)
    truth = np.clip(np.repeat(rng.uniform(1.5, 4.5, n_cases), per_case) + rng.normal(0, 0.4, cases.size), 1, 5)
    scores = truth[:, None] + np.asarray(bias) + rng.normal(0, 1, (cases.size, len(bias))) * np.asarray(noise)
    scores[rng.random(scores.shape) < missing] = nan
    ratings = np.clip(np.round(truth[:, None] + rng.normal(0, 0.3, (cases.size, clinicians))), 1, 5)
    return scores, ratings.mean(1), cases, ratings, truth


# --- fitting --------------------------------------------------------------------------------------------------


def test_weighted_recovers_a_common_bias_and_scale():
    rng = np.random.default_rng(1)
    truth = rng.uniform(1, 5, 400)
    # Every judge reads 0.5 + 0.8·truth: the calibration must invert it (slope 1.25, intercept −0.625).
    scores = 0.5 + 0.8 * truth[:, None] + rng.normal(0, 0.05, (400, 3))
    fitted = calibration.fit(scores, truth, method="weighted")
    assert fitted.slope == pytest.approx(1.25, abs=0.02)
    assert fitted.intercept == pytest.approx(-0.625, abs=0.05)
    assert sum(fitted.weights) == pytest.approx(1.0)
    assert min(fitted.weights) >= 0
    assert np.abs(fitted.predict(scores) - truth).mean() < 0.06


def test_weighted_down_weights_noisy_judges_and_corrects_their_bias():
    scores, target, _, _, truth = simulate(bias=[0.8, -0.6, 0.0, 0.0], noise=[0.2, 0.2, 2.0, 2.0], seed=2)
    fitted = calibration.fit(scores, target, method="weighted", judges=["a", "b", "noisy-1", "noisy-2"])
    weights = dict(zip(fitted.judges, fitted.weights, strict=True))
    assert weights["noisy-1"] + weights["noisy-2"] < 0.1
    # Intercept undoes the weighted bias of the precise judges.
    combined_bias = (0.8 * weights["a"] - 0.6 * weights["b"]) / (weights["a"] + weights["b"])
    assert fitted.intercept == pytest.approx(-combined_bias, abs=0.15)
    assert np.abs(fitted.predict(scores) - target).mean() < np.abs(np.nanmean(scores, 1) - target).mean() - 0.3


def test_equal_is_the_mean_of_the_judges_present():
    scores = np.array([[1, 3, nan], [2, 2, 5], [nan, nan, 4]], dtype=float)
    fitted = calibration.fit(scores, [2, 3, 4], method="equal")
    assert fitted.predict(scores) == pytest.approx([2, 3, 4])
    assert fitted.weights == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_missing_judges_renormalise_the_weights_of_those_present():
    fitted = Calibration("weighted", ("a", "b", "c"), (0.5, 0.25, 0.25), intercept=0.0, slope=1.0)
    scores = np.array(
        [
            [4, 2, 2],  # all present: 0.5·4 + 0.25·2 + 0.25·2 = 3
            [nan, 2, 4],  # a missing: (0.25·2 + 0.25·4) / 0.5 = 3
            [4, nan, 2],  # b missing: (0.5·4 + 0.25·2) / 0.75 = 10/3
            [nan, nan, nan],  # nobody: NaN
        ]
    )
    assert fitted.predict(scores)[:3] == pytest.approx([3, 3, 10 / 3])
    assert np.isnan(fitted.predict(scores)[3])


def test_judges_with_zero_weight_fall_back_to_the_plain_mean_of_those_present():
    fitted = Calibration("best_single", ("a", "b", "c"), (1.0, 0.0, 0.0))
    assert fitted.predict([[2, 3, 5], [nan, 3, 5]]) == pytest.approx([2, 4])


def test_weighted_fits_with_missing_judges():
    scores, target, _, _, _ = simulate(bias=[0.5, 0.0, -0.5], noise=[0.3, 0.3, 0.3], missing=0.4, seed=3)
    fitted = calibration.fit(scores, target, method="weighted")
    predicted = fitted.predict(scores)
    assert np.isfinite(predicted[~np.isnan(scores).all(1)]).all()
    assert np.abs(predicted - target)[~np.isnan(predicted)].mean() < 0.45


def test_best_single_picks_the_most_accurate_judge():
    scores, target, *_ = simulate(bias=[0.0, 0.0, 0.5], noise=[1.0, 0.2, 0.2], seed=4)
    fitted = calibration.fit(scores, target, method="best_single", judges=["x", "y", "z"])
    assert fitted.weights == (0.0, 1.0, 0.0)
    assert fitted.predict(scores) == pytest.approx(np.clip(scores[:, 1], 1, 5))


def test_isotonic_matches_scikit_learn_on_the_weighted_score():
    scores, target, *_ = simulate(bias=[0.3, -0.3], noise=[0.5, 0.5], seed=5)
    weighted = calibration.fit(scores, target, method="weighted")
    isotonic = calibration.fit(scores, target, method="isotonic")
    assert isotonic.weights == weighted.weights
    z = weighted.intercept + weighted.slope * weighted.combined(scores)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=1, y_max=5).fit(z, target).predict(z)
    assert isotonic.predict(scores) == pytest.approx(reference, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_isotonic_is_monotone_and_on_the_scale(seed):
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 6, (30, 2))
    target = rng.uniform(1, 5, 30)
    fitted = calibration.fit(scores, target, method="isotonic")
    grid = np.linspace(-2, 8, 200)
    predicted = fitted.predict(np.column_stack([grid, grid]))
    assert (np.diff(predicted) * np.sign(fitted.slope or 1) >= -1e-12).all()
    assert ((predicted >= 1) & (predicted <= 5)).all()


def test_predictions_are_clipped_to_the_scale():
    fitted = Calibration("weighted", ("a",), (1.0,), intercept=-10.0, slope=10.0)
    assert fitted.predict([[0.0], [1.5], [9.0]]) == pytest.approx([1, 5, 5])


# --- folds ----------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 25), min_size=5, max_size=200),
    st.integers(2, 5),
    st.integers(0, 2**32 - 1),
)
def test_grouped_folds_never_split_a_case(groups, n_folds, seed):
    if len(set(groups)) < n_folds:
        with pytest.raises(ValueError, match="at least"):
            calibration.grouped_folds(groups, n_folds=n_folds, seed=seed)
        return
    folds = calibration.grouped_folds(groups, n_folds=n_folds, seed=seed)
    groups = np.asarray(groups)
    for case in np.unique(groups):
        assert np.unique(folds[groups == case]).size == 1
    assert set(folds.tolist()) == set(range(n_folds))
    assert (folds == calibration.grouped_folds(groups, n_folds=n_folds, seed=seed)).all()


def test_grouped_folds_are_balanced_and_depend_on_the_seed():
    groups = np.repeat(np.arange(100), 3)
    folds = calibration.grouped_folds(groups, n_folds=5, seed=0)
    assert np.bincount(folds).tolist() == [60] * 5
    assert (folds != calibration.grouped_folds(groups, n_folds=5, seed=1)).any()


# --- cross-validation -----------------------------------------------------------------------------------------


def test_weighted_beats_equal_on_held_out_cases_when_judges_are_biased_and_some_noisy():
    scores, target, cases, ratings, _ = simulate(
        bias=[0.8, -0.6, 0.4, 0.0, 0.0], noise=[0.3, 0.3, 0.3, 1.8, 2.2], n_cases=150, missing=0.1, seed=6
    )
    report = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings, dimension="safety")
    weighted, equal = report.methods["weighted"], report.methods["equal"]
    assert weighted.mae.value < equal.mae.value - 0.15
    assert weighted.beats_equal
    assert report.beats_equal
    assert report.chosen in ("weighted", "isotonic")
    assert report.summary.startswith("Calibration beats the equal-weight jury for safety")
    assert report.calibration == report.fits[report.chosen]
    assert weighted.delta_mae.ci[1] < 0
    assert len(weighted.fold_mae) == 5
    assert weighted.spearman.value > equal.spearman.value
    assert weighted.qwk.value > equal.qwk.value
    assert weighted.alpha.defined and weighted.alpha.n_raters == 3


def test_calibration_does_not_claim_to_beat_equal_when_judges_are_unbiased_and_equally_noisy():
    scores, target, cases, ratings, _ = simulate(bias=[0, 0, 0, 0], noise=[0.6] * 4, n_cases=150, seed=7)
    report = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings, dimension="accuracy")
    assert report.chosen == "equal"
    assert not report.beats_equal
    assert report.summary.startswith("Calibration does not beat the equal-weight jury for accuracy")
    assert "the equal-weight jury is used" in report.summary
    assert report.calibration.method == "equal"


@pytest.mark.parametrize("seed", range(3))
def test_no_false_claim_across_seeds(seed):
    scores, target, cases, _, _ = simulate(bias=[0, 0, 0], noise=[0.5] * 3, n_cases=80, seed=100 + seed)
    assert calibration.cross_validate(scores, target, cases, seed=seed).chosen == "equal"


def test_cross_validation_is_deterministic():
    scores, target, cases, ratings, _ = simulate(bias=[0.5, 0, -0.3], noise=[0.3, 1, 0.5], missing=0.1, seed=8)
    first = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings, seed=11)
    second = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings, seed=11)
    assert first.as_dict() == second.as_dict()
    other = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings, seed=12)
    assert other.fold_of_case != first.fold_of_case


def test_report_records_the_folds_of_cases_and_never_splits_one():
    scores, target, cases, _, _ = simulate(bias=[0, 0], noise=[0.5, 0.5], n_cases=30, seed=9)
    report = calibration.cross_validate(scores, target, cases, n_folds=3, seed=5)
    assert set(report.fold_of_case) == set(cases)
    assert set(report.fold_of_case.values()) == {0, 1, 2}
    assert report.n_cases == 30 and report.n_conversations == 150 and report.n_excluded == 0


def test_held_out_predictions_never_see_their_case():
    """Pure-noise judges: isotonic fits its training data closely, so a leak would show as a low held-out error;
    honest held-out error stays near that of a constant predictor (MAE ≈ 0.75 for a uniform 1–5 target)."""
    rng = np.random.default_rng(10)
    cases = np.repeat(np.arange(60), 4)
    target = np.repeat(rng.uniform(1, 5, 60), 4)
    scores = rng.uniform(1, 5, (240, 3))
    report = calibration.cross_validate(scores, target, cases)
    assert report.methods["isotonic"].mae.value > 0.7
    assert report.chosen == "equal" or report.methods[report.chosen].mae.value > 0.7


def test_conversations_without_a_target_are_left_out():
    scores, target, cases, _, _ = simulate(bias=[0, 0], noise=[0.5, 0.5], n_cases=40, seed=12)
    target = target.copy()
    target[:7] = nan
    scores[7] = nan
    report = calibration.cross_validate(scores, target, cases)
    assert report.n_excluded == 8
    assert report.n_conversations == scores.shape[0] - 8


def test_ceiling_is_the_clinician_leave_one_out_from_jury_agreement():
    scores, target, cases, ratings, _ = simulate(bias=[0, 0], noise=[0.5, 0.5], clinicians=3, seed=13)
    report = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings)
    expected = np.mean([s.value for s in agreement.leave_one_rater_out(ratings, agreement.mean_absolute_error)])
    assert report.ceiling["mae"].value == pytest.approx(expected)
    alpha = agreement.krippendorff_alpha(ratings, level="ordinal", value_domain=SCALE)
    assert report.ceiling["alpha"].value == pytest.approx(alpha.value)
    assert set(report.ceiling) == {"mae", "rmse", "spearman", "qwk", "alpha"}


def test_alpha_is_undefined_without_clinician_ratings():
    scores, target, cases, _, _ = simulate(bias=[0, 0], noise=[0.5, 0.5], n_cases=20, seed=14)
    report = calibration.cross_validate(scores, target, cases, methods=["weighted"])
    assert set(report.methods) == {"equal", "weighted"}
    assert not report.methods["equal"].alpha.defined
    assert "no clinician ratings" in report.methods["equal"].alpha.undefined_reason
    assert report.ceiling == {}


def test_qwk_is_against_the_rounded_consensus():
    scores, target, cases, _, _ = simulate(bias=[0, 0], noise=[0.4, 0.4], n_cases=20, seed=15)
    report = calibration.cross_validate(scores, target, cases, methods=["equal"])
    # Recompute from the out-of-fold prediction of the equal jury (it has no parameters: = its prediction).
    predicted = np.clip(np.nanmean(scores, 1), 1, 5)
    expected = agreement.cohen_kappa(
        np.floor(predicted + 0.5), np.floor(target + 0.5), weights="quadratic", labels=SCALE
    )
    assert report.methods["equal"].qwk.value == pytest.approx(expected.value)


def test_a_stored_calibration_predicts_the_same():
    scores, target, *_ = simulate(bias=[0.4, -0.2, 0.0], noise=[0.3, 0.6, 1.0], seed=17)
    for method in calibration.METHODS:
        fitted = calibration.fit(scores, target, method=method, judges=["a", "b", "c"])
        restored = Calibration.from_dict(json.loads(json.dumps(fitted.as_dict())))
        assert restored == fitted
        assert (restored.predict(scores) == fitted.predict(scores)).all()
    with pytest.raises(ValueError, match="not a stored calibration"):
        Calibration.from_dict({"method": "weighted"})
    with pytest.raises(ValueError, match="non-negative"):
        Calibration.from_dict({"method": "weighted", "weights": {"a": -1.0, "b": 2.0}})


def test_report_serialises():
    scores, target, cases, ratings, _ = simulate(bias=[0.3, 0], noise=[0.5, 0.5], n_cases=20, seed=16)
    data = calibration.cross_validate(scores, target, cases, clinician_ratings=ratings).as_dict()
    text = json.dumps(data)
    assert '"chosen"' in text and '"weights"' in text and '"fold_mae"' in text


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "target", "groups", "kwargs", "message"),
    [
        ([1, 2, 3], [1, 2, 3], [1, 2, 3], {}, "2-D"),
        ([[1], [2], [np.inf]], [1, 2, 3], [1, 2, 3], {}, "infinite"),
        ([["a"], [2], [3]], [1, 2, 3], [1, 2, 3], {}, "numeric"),
        ([[1], [2], [3]], [1, 2], [1, 2, 3], {}, "one score per conversation"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2], {}, "case of each conversation"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {}, "at least 5 cases"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 1}, "n_folds"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "methods": ["magic"]}, "method must be"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "judges": ["a", "b"]}, "name each"),
        ([[1, 2], [2, 2], [3, 3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "judges": ["a", "a"]}, "duplicate"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "margin": -1}, "margin"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "scale": (5, 1)}, "low < high"),
        ([[1], [2], [3]], [1, 2, 3], [1, 2, 3], {"n_folds": 2, "clinician_ratings": [[1], [2]]}, "clinician_ratings"),
        ([[1], [2], [3]], [1, 2, 3], [1, None, 3], {"n_folds": 2}, "None"),
    ],
)
def test_bad_input_raises_a_clear_value_error(scores, target, groups, kwargs, message):
    with pytest.raises(ValueError, match=message):
        calibration.cross_validate(scores, target, groups, **kwargs)


def test_fit_refuses_unknown_methods_and_too_little_data():
    with pytest.raises(ValueError, match="method must be"):
        calibration.fit([[1], [2]], [1, 2], method="average")
    with pytest.raises(ValueError, match="at least two conversations"):
        calibration.fit([[1], [nan]], [1, 2], method="weighted")


def test_predict_refuses_the_wrong_number_of_judges():
    fitted = calibration.fit([[1, 2], [2, 3], [3, 3]], [1, 2, 3], method="equal")
    with pytest.raises(ValueError, match="fitted on 2"):
        fitted.predict([[1, 2, 3]])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(6, 40),
    st.integers(1, 4),
    st.floats(0, 0.7),
    st.booleans(),
)
def test_cross_validation_never_crashes_on_odd_data(seed, n_cases, n_judges, missing, constant):
    """Any data: a report whose figures are finite or undefined-with-a-reason, or a ValueError that says why."""
    rng = np.random.default_rng(seed)
    cases = rng.integers(0, n_cases, 3 * n_cases)
    scores = rng.integers(1, 6, (cases.size, n_judges)).astype(float)
    scores[rng.random(scores.shape) < missing] = nan
    target = np.full(cases.size, 3.0) if constant else rng.integers(1, 6, cases.size).astype(float)
    try:
        report = calibration.cross_validate(scores, target, cases, n_folds=3, seed=seed)
    except ValueError as error:
        assert str(error)
        return
    assert report.chosen in calibration.METHODS
    for result in report.methods.values():
        for statistic in (result.mae, result.rmse, result.spearman, result.qwk, result.alpha):
            assert statistic.value is None or np.isfinite(statistic.value)
            assert (statistic.value is None) == (statistic.undefined_reason is not None)
    predicted = report.calibration.predict(scores)
    present = ~np.isnan(scores).all(1)
    assert np.isfinite(predicted[present]).all() and ((predicted[present] >= 1) & (predicted[present] <= 5)).all()
