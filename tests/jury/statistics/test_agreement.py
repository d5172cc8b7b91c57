"""jury.statistics.agreement reproduces published worked examples, agrees with independent implementations,
behaves under permutations and shifts, says when a figure is undefined, and bootstraps fast."""

import math
import time
import tracemalloc
from functools import partial

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sklearn_metrics
from statsmodels.stats import inter_rater

from jury.statistics import agreement
from jury.statistics.agreement import Statistic

nan = np.nan
SCALE = [1, 2, 3, 4, 5]

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for Communication,
# University of Pennsylvania, §C "Nominal data, any number of observers, missing values": 4 observers × 12 units.
# The same data are Gwet (2014) Handbook of Inter-Rater Reliability, 4th ed., p. 120 (irrCAC `cac.raw4raters`).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],  # observer A
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],  # observer B
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],  # observer C
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],  # observer D
    ]
).T

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
# 378–382, Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression, 2 personality disorder,
# 3 schizophrenia, 4 neurosis, 5 other); the raw assignments as in R irr::diagnoses and statsmodels' tests.
FLEISS_1971 = np.array(
    [
        [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
        [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
        [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
        [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
        [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
    ],
    dtype=float,
)  # fmt: skip

# Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater reliability.
# Psychological Bulletin 86(2), 420–428, Table 2: 6 targets × 4 judges.
SHROUT_FLEISS_1979 = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


# --- published values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_2011_reliability_data_with_missing_values(level, published):
    # Krippendorff (2011) §C–E: α = .743 nominal, .815 ordinal, .849 interval, .797 ratio.
    result = agreement.krippendorff_alpha(KRIPPENDORFF_2011, level=level, value_domain=SCALE)
    assert round(result.value, 3) == published
    assert (result.n_units, result.n_raters, result.undefined_reason) == (11, 4, None)  # unit 12 is unpairable


def test_fleiss_1971_kappa():
    # Fleiss (1971) p. 381: κ = .430 (P̄ = .5556, P̄e = .2201).
    result = agreement.fleiss_kappa(FLEISS_1971, categories=SCALE)
    assert round(result.value, 3) == 0.430
    assert (result.n_units, result.n_raters) == (30, 6)


@pytest.mark.parametrize(
    ("form", "published"),
    [("1,1", 0.17), ("2,1", 0.29), ("3,1", 0.71), ("1,k", 0.44), ("2,k", 0.62), ("3,k", 0.91)],
)
def test_shrout_fleiss_1979_six_iccs(form, published):
    # Shrout & Fleiss (1979) Table 4 reports two decimals; the three-decimal values follow from their Table 3
    # mean squares BMS = 11.24, WMS = 6.26, JMS = 32.49, EMS = 1.02 (n = 6, k = 4).
    three_decimals = {"1,1": 0.166, "2,1": 0.290, "3,1": 0.715, "1,k": 0.443, "2,k": 0.620, "3,k": 0.909}
    result = agreement.icc(SHROUT_FLEISS_1979, form=form)
    assert round(result.value, 2) == published
    assert round(result.value, 3) == three_decimals[form]
    assert result.note is None


def test_shrout_fleiss_1979_mean_squares_give_the_same_iccs():
    bms, wms, jms, ems, n, k = 11.24166667, 6.26388889, 32.48611111, 1.01944444, 6, 4
    expected = {
        "1,1": (bms - wms) / (bms + (k - 1) * wms),
        "2,1": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "3,1": (bms - ems) / (bms + (k - 1) * ems),
        "1,k": (bms - wms) / bms,
        "2,k": (bms - ems) / (bms + (jms - ems) / n),
        "3,k": (bms - ems) / bms,
    }
    for form, value in expected.items():
        assert agreement.icc(SHROUT_FLEISS_1979, form=form).value == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize(("weights", "published"), [(None, 0.775), ("linear", 0.859), ("quadratic", 0.914)])
def test_gwet_handbook_ac1_and_ac2(weights, published):
    # Gwet (2014) Handbook of Inter-Rater Reliability, 4th ed., p. 120 (4 raters × 12 subjects, categories 1–5):
    # AC1 = 0.7754 (pa = 0.8182, pe = 0.1903); irrCAC gwet.ac1.raw(cac.raw4raters, weights=…) gives AC2 0.859
    # with linear and 0.914 with quadratic weights (pa = 0.975, pe = 0.714).
    result = agreement.gwet_ac(KRIPPENDORFF_2011, categories=SCALE, weights=weights)
    assert round(result.value, 3) == published
    assert result.n_units == 11


def test_gwet_ac1_four_decimals():
    assert round(agreement.gwet_ac(KRIPPENDORFF_2011, categories=SCALE).value, 4) == 0.7754


# --- independent implementations ---------------------------------------------------------------------------


def random_ratings(seed: int, units: int = 60, raters: int = 4, missing: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=(units, 1))
    ratings = np.clip(truth + rng.integers(-1, 2, size=(units, raters)), 1, 5).astype(float)
    ratings[rng.random((units, raters)) < missing] = nan
    return ratings


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", agreement.LEVELS)
def test_alpha_from_coincidence_parts_matches_the_krippendorff_package(seed, level):
    ratings = random_ratings(seed)
    decomposition = agreement._alpha_decomposition(ratings, level=level, value_domain=np.array(SCALE, float))
    expected = krippendorff.alpha(ratings.T, level_of_measurement=level, value_domain=SCALE)
    assert agreement._evaluate(decomposition) == pytest.approx(expected, abs=1e-10)


def test_fleiss_kappa_matches_statsmodels():
    for seed in range(5):
        ratings = random_ratings(seed, missing=0)
        table, _ = inter_rater.aggregate_raters(ratings.astype(int), n_cat=None)
        expected = inter_rater.fleiss_kappa(table, method="fleiss")
        assert agreement.fleiss_kappa(ratings, categories=SCALE).value == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_scikit_learn(weights):
    for seed in range(5):
        ratings = random_ratings(seed, raters=2, missing=0.1)
        both = ~np.isnan(ratings).any(1)
        expected = sklearn_metrics.cohen_kappa_score(
            ratings[both, 0].astype(int), ratings[both, 1].astype(int), labels=SCALE, weights=weights
        )
        result = agreement.cohen_kappa(ratings[:, 0], ratings[:, 1], weights=weights, labels=SCALE)
        assert result.value == pytest.approx(expected, abs=1e-10)
        assert result.n_units == both.sum()


def test_cohen_kappa_matches_statsmodels_on_a_published_table():
    # An independent implementation on a 3 × 3 table (statsmodels' test table10, [[0,4,1],[0,8,0],[0,1,5]]).
    a = [1] * 4 + [1] * 1 + [2] * 8 + [3] * 1 + [3] * 5
    b = [2] * 4 + [3] * 1 + [2] * 8 + [2] * 1 + [3] * 5
    table = np.zeros((3, 3))
    for x, y in zip(a, b, strict=True):
        table[x - 1, y - 1] += 1
    expected = inter_rater.cohens_kappa(table, return_results=False)
    assert agreement.cohen_kappa(a, b, labels=[1, 2, 3]).value == pytest.approx(expected, abs=1e-10)


def test_spearman_and_kendall_match_scipy_on_complete_pairs():
    from scipy import stats

    ratings = random_ratings(3, raters=2, missing=0.2)
    both = ~np.isnan(ratings).any(1)
    a, b = ratings[both, 0], ratings[both, 1]
    assert agreement.spearman(ratings[:, 0], ratings[:, 1]).value == pytest.approx(stats.spearmanr(a, b)[0])
    assert agreement.kendall(ratings[:, 0], ratings[:, 1]).value == pytest.approx(stats.kendalltau(a, b)[0])


def test_mae_bias_exact_and_within_one_by_hand():
    a = [1, 2, 3, 4, nan]
    b = [2, 2, 5, 4, 1]
    assert agreement.mean_absolute_error(a, b).value == pytest.approx(3 / 4)
    assert agreement.bias(a, b).value == pytest.approx(-3 / 4)
    assert agreement.bias(a, b).n_units == 4
    ratings = np.column_stack([a, b])
    assert agreement.exact_agreement(ratings).value == pytest.approx(2 / 4)
    assert agreement.within_one_agreement(ratings).value == pytest.approx(3 / 4)
    # three raters: pairs (1,1) agree, (1,2) ×2 are within one
    three = np.array([[1, 1, 2]], float)
    assert agreement.exact_agreement(three).value == pytest.approx(1 / 3)
    assert agreement.within_one_agreement(three).value == 1


def test_mean_pairwise_kappa_is_the_mean_of_the_pairs():
    ratings = random_ratings(7, raters=3, missing=0.1)
    pairs = [(0, 1), (0, 2), (1, 2)]
    expected = np.mean(
        [agreement.cohen_kappa(ratings[:, i], ratings[:, j], weights="quadratic", labels=SCALE).value for i, j in pairs]
    )
    assert agreement.mean_pairwise_kappa(ratings, weights="quadratic", labels=SCALE).value == pytest.approx(expected)


def test_pairwise_matrix_and_leave_one_rater_out():
    ratings = random_ratings(8, raters=3, missing=0)
    kappa = partial(agreement.cohen_kappa, weights="quadratic", labels=SCALE)
    matrix = agreement.pairwise(ratings, kappa)
    assert len(matrix) == 3 and all(len(row) == 3 for row in matrix)
    assert matrix[0][0].value is None and matrix[0][0].undefined_reason
    assert matrix[0][1].value == pytest.approx(matrix[1][0].value)  # quadratic κ is symmetric
    loo = agreement.leave_one_rater_out(ratings, agreement.bias)
    assert loo[0].value == pytest.approx(np.mean(ratings[:, 0] - ratings[:, 1:].mean(1)))
    assert [s.n_units for s in loo] == [60, 60, 60]


# --- undefined, never NaN or 0 -----------------------------------------------------------------------------


def assert_undefined(result: Statistic, fragment: str):
    assert isinstance(result, Statistic)
    assert result.value is None
    assert fragment in result.undefined_reason


def test_one_rater_is_undefined_everywhere():
    one = np.array([[1.0], [2.0], [3.0]])
    assert_undefined(agreement.krippendorff_alpha(one, value_domain=SCALE), "two raters")
    assert_undefined(agreement.gwet_ac(one, categories=SCALE), "two raters")
    assert_undefined(agreement.fleiss_kappa(one, categories=SCALE), "two raters")
    assert_undefined(agreement.icc(one, form="2,1"), "two raters")
    assert_undefined(agreement.mean_pairwise_kappa(one, labels=SCALE), "two raters")
    assert_undefined(agreement.exact_agreement(one), "two or more raters")
    assert all(s.value is None for s in agreement.leave_one_rater_out(one, agreement.bias))


def test_no_pairable_units_is_undefined():
    disjoint = np.array([[1, nan], [nan, 2], [3, nan]])
    assert_undefined(agreement.krippendorff_alpha(disjoint, value_domain=SCALE), "no unit")
    assert_undefined(agreement.gwet_ac(disjoint, categories=SCALE, weights="quadratic"), "no unit")
    assert_undefined(agreement.within_one_agreement(disjoint), "no unit")
    assert_undefined(agreement.cohen_kappa(disjoint[:, 0], disjoint[:, 1], labels=SCALE), "share no")
    assert_undefined(agreement.icc(disjoint, form="1,1"), "two units")
    assert_undefined(agreement.bias(disjoint[:, 0], disjoint[:, 1]), "no unit")
    assert_undefined(agreement.spearman(disjoint[:, 0], disjoint[:, 1]), "two units")


def test_no_variation_is_undefined_not_zero_or_one():
    constant = np.full((5, 3), 3.0)
    for level in agreement.LEVELS:
        assert_undefined(agreement.krippendorff_alpha(constant, level=level, value_domain=SCALE), "no variation")
    assert_undefined(agreement.cohen_kappa(constant[:, 0], constant[:, 1], labels=SCALE), "no variation")
    assert_undefined(agreement.fleiss_kappa(constant, categories=SCALE), "no variation")
    assert_undefined(agreement.icc(constant, form="2,1"), "no variation")
    assert_undefined(agreement.spearman(constant[:, 0], constant[:, 1]), "no variation")
    assert_undefined(agreement.mean_pairwise_kappa(constant, labels=SCALE), "every pair")
    # agreement itself is defined and perfect
    assert agreement.exact_agreement(constant).value == 1
    # Gwet's AC does not depend on marginal variation: constant agreement is AC = 1 (the point of AC1)
    assert agreement.gwet_ac(constant, categories=SCALE).value == 1


def test_icc_drops_incomplete_units_and_says_how_many():
    ratings = np.vstack([SHROUT_FLEISS_1979, [[1, nan, 2, 3], [nan, nan, nan, 4]]])
    result = agreement.icc(ratings, form="2,1")
    assert result.value == pytest.approx(agreement.icc(SHROUT_FLEISS_1979, form="2,1").value)
    assert result.n_units == 6
    assert result.note == "2 units with a missing rating dropped"


def test_statistics_never_return_nan():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ratings = rng.choice([1.0, 2.0, nan], size=(rng.integers(0, 4), rng.integers(1, 4)))
        for result in [
            agreement.krippendorff_alpha(ratings, value_domain=SCALE),
            agreement.gwet_ac(ratings, categories=SCALE, weights="quadratic"),
            agreement.fleiss_kappa(ratings, categories=SCALE),
            agreement.icc(ratings, form="3,k"),
            agreement.exact_agreement(ratings),
            agreement.mean_pairwise_kappa(ratings, labels=SCALE),
        ]:
            assert result.value is None or math.isfinite(result.value)
            assert (result.value is None) == (result.undefined_reason is not None)


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: agreement.krippendorff_alpha([1, 2, 3], value_domain=SCALE), "2-D"),
        (lambda: agreement.krippendorff_alpha([[1, "a"]], value_domain=SCALE), "numeric"),
        (lambda: agreement.krippendorff_alpha([[1, 6]], value_domain=SCALE), "outside value_domain"),
        (lambda: agreement.krippendorff_alpha([[1, 2]], level="cardinal"), "level"),
        (lambda: agreement.krippendorff_alpha([[1, np.inf]]), "infinite"),
        (lambda: agreement.gwet_ac([[1, 2.5]], categories=SCALE), "outside categories"),
        (lambda: agreement.gwet_ac([[1, 2]], categories=SCALE, weights="cubic"), "weights"),
        (lambda: agreement.fleiss_kappa([[1, 2]], categories=[1]), "at least two"),
        (lambda: agreement.cohen_kappa([1, 2], [1], labels=SCALE), "same length"),
        (lambda: agreement.cohen_kappa([1, 2], [1, 0], labels=SCALE), "outside labels"),
        (lambda: agreement.icc([[1, 2]], form="4,1"), "form"),
        (lambda: agreement.spearman([[1, 2]], [1, 2]), "1-D"),
        (lambda: agreement.bootstrap([[1, 2]], agreement.exact_agreement, n_resamples=1, seed=0), "n_resamples"),
        (lambda: agreement.bootstrap([[1, 2]], agreement.exact_agreement, confidence=95, seed=0), "confidence"),
        (lambda: agreement.bootstrap([[1, 2]], agreement.exact_agreement, clusters=[1, 2], seed=0), "clusters"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- properties ----------------------------------------------------------------------------------------------

rating_matrices = st.integers(2, 12).flatmap(
    lambda units: st.integers(2, 5).flatmap(
        lambda raters: arrays(float, (units, raters), elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0, nan]))
    )
)

MATRIX_STATISTICS = {
    "alpha_nominal": partial(agreement.krippendorff_alpha, level="nominal", value_domain=SCALE),
    "alpha_ordinal": partial(agreement.krippendorff_alpha, level="ordinal", value_domain=SCALE),
    "alpha_interval": partial(agreement.krippendorff_alpha, level="interval", value_domain=SCALE),
    "alpha_ratio": partial(agreement.krippendorff_alpha, level="ratio", value_domain=SCALE),
    "ac1": partial(agreement.gwet_ac, categories=SCALE),
    "ac2": partial(agreement.gwet_ac, categories=SCALE, weights="quadratic"),
    "fleiss": partial(agreement.fleiss_kappa, categories=SCALE),
    "kappa": partial(agreement.mean_pairwise_kappa, labels=SCALE, weights="quadratic"),
    "icc21": partial(agreement.icc, form="2,1"),
    "icc3k": partial(agreement.icc, form="3,k"),
    "exact": agreement.exact_agreement,
    "within_one": agreement.within_one_agreement,
}


def same(first: Statistic, second: Statistic) -> bool:
    if first.value is None or second.value is None:
        return first.value is None and second.value is None
    return math.isclose(first.value, second.value, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(ratings=rating_matrices, data=st.data())
def test_invariant_under_permuting_units_and_raters(ratings, data):
    units = data.draw(st.permutations(range(ratings.shape[0])))
    raters = data.draw(st.permutations(range(ratings.shape[1])))
    shuffled = ratings[list(units)][:, list(raters)]
    for name, statistic in MATRIX_STATISTICS.items():
        assert same(statistic(ratings), statistic(shuffled)), name


@settings(max_examples=60, deadline=None)
@given(ratings=rating_matrices)
def test_bounds(ratings):
    # Chance-corrected coefficients and ICCs are at most 1; their lower bounds depend on the design (Fleiss' κ
    # reaches −1/(m−1)), except Cohen's κ (≥ −1) and AC1 (≥ −1/(q−1), as p_e ≤ 1/q).
    for name, statistic in MATRIX_STATISTICS.items():
        value = statistic(ratings).value
        if value is None:
            continue
        assert value <= 1 + 1e-9, name
        if name in ("exact", "within_one"):
            assert value >= 0, name
        if name == "kappa":
            assert value >= -1 - 1e-9, name
        if name == "ac1":
            assert value >= -1 / 4 - 1e-9, name


@settings(max_examples=40, deadline=None)
@given(
    truth=arrays(float, st.integers(2, 15), elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0])),
    raters=st.integers(2, 5),
)
def test_perfect_agreement_is_one_where_defined(truth, raters):
    ratings = np.repeat(truth[:, None], raters, axis=1)
    varied = np.unique(truth).size > 1
    for name, statistic in MATRIX_STATISTICS.items():
        result = statistic(ratings)
        if name in ("exact", "within_one") or name.startswith("ac") or varied:
            assert result.value == pytest.approx(1), name
        else:
            assert result.value is None, name
    for pair in (agreement.spearman, agreement.kendall):
        result = pair(truth, truth)
        assert (result.value == pytest.approx(1)) if varied else result.value is None
    assert agreement.mean_absolute_error(truth, truth).value == 0
    assert agreement.bias(truth, truth).value == 0


@settings(max_examples=60, deadline=None)
@given(ratings=rating_matrices, shift=st.integers(-20, 20), scale=st.sampled_from([0.5, 2.0, 10.0]))
def test_interval_alpha_and_icc_are_invariant_under_linear_transforms(ratings, shift, scale):
    domain = [v * scale + shift for v in SCALE]
    moved = ratings * scale + shift
    before = agreement.krippendorff_alpha(ratings, level="interval", value_domain=SCALE)
    after = agreement.krippendorff_alpha(moved, level="interval", value_domain=domain)
    assert same(before, after)
    before_ordinal = agreement.krippendorff_alpha(ratings, level="ordinal", value_domain=SCALE)
    after_ordinal = agreement.krippendorff_alpha(moved, level="ordinal", value_domain=domain)
    assert same(before_ordinal, after_ordinal)  # ordinal α depends on ranks only
    for form in agreement.ICC_FORMS:
        assert same(agreement.icc(ratings, form=form), agreement.icc(moved, form=form))


@settings(max_examples=40, deadline=None)
@given(ratings=rating_matrices)
def test_decompositions_give_the_public_values(ratings):
    for name, statistic in MATRIX_STATISTICS.items():
        result = statistic(ratings)
        decomposition = agreement._decomposition_for(statistic, ratings)
        value = agreement._evaluate(decomposition)
        if result.value is None:
            continue
        assert value == pytest.approx(result.value, abs=1e-9), name


# --- bootstrap -----------------------------------------------------------------------------------------------


def test_bootstrap_is_reproducible_and_brackets_the_estimate():
    ratings = random_ratings(11, units=200, raters=3)
    alpha = partial(agreement.krippendorff_alpha, level="ordinal", value_domain=SCALE)
    first = agreement.bootstrap(ratings, alpha, seed=5)
    second = agreement.bootstrap(ratings, alpha, seed=5)
    assert first == second
    assert first.value == alpha(ratings).value
    assert first.ci_method == "bca" and first.ci == first.bca_ci
    assert first.percentile_ci[0] < first.value < first.percentile_ci[1]
    assert first.ci[0] < first.value < first.ci[1]
    assert first.n_resamples == 1000
    assert agreement.bootstrap(ratings, alpha, seed=6) != first


def test_fast_bootstrap_matches_the_generic_loop():
    # The same seed draws the same resamples on both paths when rows are not pooled.
    ratings = random_ratings(12, units=40, raters=3)
    clusters = np.arange(40) // 2
    for statistic in MATRIX_STATISTICS.values():
        fast = agreement.bootstrap(ratings, statistic, n_resamples=200, clusters=clusters, seed=3)
        slow = agreement.bootstrap(ratings, lambda r, s=statistic: s(r), n_resamples=200, clusters=clusters, seed=3)
        if fast.value is None:
            assert slow.value is None
            continue
        assert fast.percentile_ci == pytest.approx(slow.percentile_ci)
        if fast.bca_ci:
            assert fast.bca_ci == pytest.approx(slow.bca_ci)


def test_fast_bootstrap_of_two_column_statistics_matches_the_generic_loop():
    ratings = random_ratings(13, units=60, raters=3, missing=0.1)
    ratings[np.isnan(ratings[:, 1:]).all(1), 1] = 3.0
    own, others = ratings[:, 0], np.nanmean(ratings[:, 1:], axis=1)
    pair = np.column_stack([own, others])
    for statistic in (agreement.bias, agreement.mean_absolute_error, agreement.spearman):
        fast = agreement.bootstrap(pair, agreement.OnColumns(statistic), n_resamples=300, seed=4)
        slow = agreement.bootstrap(pair, lambda r, s=statistic: s(r[:, 0], r[:, 1]), n_resamples=300, seed=4)
        assert fast.value == pytest.approx(slow.value)
        assert fast.percentile_ci == pytest.approx(slow.percentile_ci)
        assert fast.bca_ci == pytest.approx(slow.bca_ci)


def test_pooled_resampling_has_the_distribution_of_unit_resampling():
    # Many units, few distinct rows: the multinomial over patterns must match drawing units one by one.
    ratings = random_ratings(14, units=2000, raters=3, missing=0.3)
    alpha = partial(agreement.krippendorff_alpha, level="interval", value_domain=SCALE)
    fast = agreement.bootstrap(ratings, alpha, n_resamples=400, seed=1)
    slow = agreement.bootstrap(ratings, lambda r: alpha(r), n_resamples=400, seed=1)
    assert fast.percentile_ci == pytest.approx(slow.percentile_ci, abs=0.01)


def test_cluster_bootstrap_is_wider_when_clusters_are_correlated():
    # 40 cases, 10 near-identical conversations each: resampling conversations pretends there are 400
    # independent units; resampling cases does not.
    rng = np.random.default_rng(2)
    case_truth = rng.integers(1, 6, size=40)
    truth = np.repeat(case_truth, 10)
    ratings = np.clip(truth[:, None] + rng.choice([-1, 0, 0, 0, 1], size=(400, 3)), 1, 5).astype(float)
    clusters = np.repeat(np.arange(40), 10)
    alpha = partial(agreement.krippendorff_alpha, level="ordinal", value_domain=SCALE)
    by_unit = agreement.bootstrap(ratings, alpha, seed=0)
    by_case = agreement.bootstrap(ratings, alpha, clusters=clusters, seed=0)
    assert "40 clusters" in by_case.note
    assert by_case.ci[1] - by_case.ci[0] > by_unit.ci[1] - by_unit.ci[0]


def test_bootstrap_of_an_undefined_statistic_stays_undefined():
    constant = np.full((10, 3), 2.0)
    result = agreement.bootstrap(constant, partial(agreement.icc, form="2,1"), seed=0)
    assert result.value is None and result.ci is None and "no variation" in result.undefined_reason


def test_bootstrap_counts_undefined_resamples():
    ratings = np.array([[1, 1], [1, 1], [1, 1], [2, 2], [1, 1]], float)
    # a resample without the (2, 2) unit has no variation, so κ is undefined on it
    result = agreement.bootstrap(ratings, partial(agreement.mean_pairwise_kappa, labels=SCALE), seed=0)
    assert result.value == 1
    assert "undefined and left out" in result.note
    assert result.n_resamples < 1000


def test_bootstrap_is_fast_and_memory_does_not_grow_with_resamples():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, size=(10_000, 1))
    ratings = np.clip(truth + rng.choice([-1, 0, 0, 1], size=(10_000, 5)), 1, 5).astype(float)
    ratings[rng.random(ratings.shape) < 0.3] = nan
    alpha = partial(agreement.krippendorff_alpha, level="ordinal", value_domain=SCALE)
    peaks = []
    for n_resamples in (1000, 4000):
        tracemalloc.start()
        started = time.perf_counter()
        result = agreement.bootstrap(ratings, alpha, n_resamples=n_resamples, seed=1)
        elapsed = time.perf_counter() - started
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert result.ci is not None
    assert elapsed < 5  # about 0.1 s on the development machine, under tracemalloc's overhead too
    assert peaks[1] < peaks[0] * 1.5


def test_intervals_agree_with_scipy_bootstrap_for_a_mean():
    # Two raters: exact agreement is the mean of a per-unit 0/1 indicator, which scipy.stats.bootstrap handles
    # independently (its own resampling, jackknife and BCa); with many resamples both intervals converge.
    from scipy import stats

    rng = np.random.default_rng(21)
    ratings = rng.integers(1, 4, size=(150, 2)).astype(float)
    agree = (ratings[:, 0] == ratings[:, 1]).astype(float)
    ours = agreement.bootstrap(ratings, agreement.exact_agreement, n_resamples=20_000, seed=0)
    for method, interval in (("percentile", ours.percentile_ci), ("BCa", ours.bca_ci)):
        theirs = stats.bootstrap((agree,), np.mean, n_resamples=20_000, method=method, random_state=1)
        assert interval == pytest.approx(tuple(theirs.confidence_interval), abs=0.01), method


def test_kendall_and_leave_one_out_spearman_undefined_cases():
    assert agreement.kendall([1, 2, 3], [2, 2, 2]).undefined_reason.startswith("no variation")
    assert agreement.kendall([1, nan], [nan, 1]).value is None
    ratings = np.array([[1, 1, 2], [2, 2, 3], [3, 3, 3]], float)
    rho = agreement.leave_one_rater_out(ratings, agreement.spearman)
    assert rho[0].value == pytest.approx(agreement.spearman([1, 2, 3], [1.5, 2.5, 3]).value)


def test_one_cluster_gives_no_interval_rather_than_a_zero_width_one():
    ratings = random_ratings(15, units=30, raters=3)
    result = agreement.bootstrap(ratings, agreement.exact_agreement, clusters=["case-1"] * 30, seed=0)
    assert result.value == agreement.exact_agreement(ratings).value
    assert result.ci is None and "single cluster" in result.note
