"""jury.statistics.leaderboard: case-bootstrap intervals that cover the truth, rank intervals, subgroup and paired
ablation deltas, self-preference, resampling whole cases, determinism, and refusal of bad input."""

import json

import numpy as np
import pytest

from jury.statistics import leaderboard as ls
from jury.statistics.leaderboard import Conversations

nan = np.nan
DIMENSIONS = ["safety", "accuracy", "uncertainty"]


def simulate(
    *,
    model_means: dict[str, float],
    families: dict[str, str] | None = None,
    n_cases: int = 40,
    case_sd: float = 0.5,
    noise: float = 0.4,
    conditions: dict[str, float] | None = None,
    model_condition_shift: dict[tuple[str, str], float] | None = None,
    malignant_shift: dict[str, float] | None = None,
    seed: int = 0,
) -> Conversations:
    """One conversation per case × model × condition; score = model mean + case effect + shifts + noise."""
    rng = np.random.default_rng(seed)
    conditions = conditions or {"full": 0.0}
    families = families or {m: f"family-{m}" for m in model_means}
    model_condition_shift = model_condition_shift or {}
    malignant_shift = malignant_shift or {}
    case_effect = rng.normal(0, case_sd, n_cases)
    columns = {"case": [], "model": [], "family": [], "condition": [], "scores": [], "tags": []}
    for c in range(n_cases):
        malignant = c % 3 == 0
        for model, mean in model_means.items():
            for condition, shift in conditions.items():
                centre = mean + case_effect[c] + shift + model_condition_shift.get((model, condition), 0.0)
                centre += malignant_shift.get(model, 0.0) if malignant else 0.0
                columns["case"].append(f"case-{c:03d}")
                columns["model"].append(model)
                columns["family"].append(families[model])
                columns["condition"].append(condition)
                columns["scores"].append(centre + rng.normal(0, noise, len(DIMENSIONS)))
                columns["tags"].append({"malignant"} if malignant else set())
    return Conversations.build(**columns, dimensions=DIMENSIONS)


def standing(board: ls.Leaderboard, name: str, *, kind: str = "model", dimension: str = "overall") -> ls.Standing:
    return next(s for s in board.standings if s.name == name and s.kind == kind and s.dimension == dimension)


# --- leaderboard ----------------------------------------------------------------------------------------------


def test_point_estimates_are_plain_means():
    data = simulate(model_means={"a": 3.0, "b": 4.0}, n_cases=10)
    board = ls.leaderboard(data, n_resamples=50, seed=0)
    for name in ("a", "b"):
        rows = data.model == name
        assert standing(board, name).mean.value == pytest.approx(data.scores[rows].mean())
        assert standing(board, name, dimension="accuracy").mean.value == pytest.approx(data.scores[rows, 1].mean())
        assert standing(board, name).n_conversations == 10 and standing(board, name).n_cases == 10


def test_confidence_interval_covers_the_truth_in_simulation():
    """The truth is the model's population mean (case effects average to 0); 95 % intervals should cover it about
    95 % of the time. With 30 cases the percentile cluster bootstrap is a little narrow; ≥ 85 % is required."""
    covered, trials = 0, 200
    for trial in range(trials):
        data = simulate(model_means={"a": 3.0}, n_cases=30, case_sd=0.6, noise=0.5, seed=trial)
        mean = standing(ls.leaderboard(data, n_resamples=400, seed=trial), "a").mean
        covered += mean.ci[0] <= 3.0 <= mean.ci[1]
    assert covered / trials >= 0.85


def test_cluster_bootstrap_is_wider_than_pretending_conversations_are_independent():
    """Eight models per case share the case effect: an interval from resampling conversations would be too narrow."""
    data = simulate(model_means={m: 3.0 for m in "abcdefgh"}, n_cases=30, case_sd=0.8, noise=0.2, seed=1)
    family_mean = standing(ls.leaderboard(data, n_resamples=1000, seed=0), "family-a", kind="family")
    overall = data.scores.mean(1)
    naive_se = overall.std(ddof=1) / np.sqrt(overall.size)
    width = family_mean.mean.ci[1] - family_mean.mean.ci[0]
    assert width > 2 * 1.96 * naive_se * 1.5


def test_duplicating_conversations_within_cases_does_not_change_the_bootstrap():
    """Conversations of a case move together: repeating each conversation of a case leaves every resample alone."""
    data = simulate(model_means={"a": 3.0, "b": 3.2}, n_cases=25, seed=2)
    doubled = Conversations.build(
        case=np.concatenate([data.case, data.case]),
        model=np.concatenate([data.model, data.model]),
        family=np.concatenate([data.family, data.family]),
        condition=np.concatenate([data.condition, data.condition]),
        scores=np.concatenate([data.scores, data.scores]),
        dimensions=DIMENSIONS,
    )
    first = ls.leaderboard(data, n_resamples=300, seed=4)
    second = ls.leaderboard(doubled, n_resamples=300, seed=4)
    for a, b in zip(first.standings, second.standings, strict=True):
        assert a.mean.value == pytest.approx(b.mean.value)
        assert a.mean.ci == pytest.approx(b.mean.ci)
        assert a.rank_interval == b.rank_interval


def test_rank_intervals_are_tight_for_separated_models_and_wide_for_close_ones():
    data = simulate(model_means={"top": 4.5, "close-1": 3.0, "close-2": 3.01, "bottom": 1.5}, n_cases=40, seed=3)
    board = ls.leaderboard(data, n_resamples=1000, seed=0)
    assert standing(board, "top").rank == 1 and standing(board, "top").rank_interval == (1, 1)
    assert standing(board, "bottom").rank_interval == (4, 4)
    assert standing(board, "close-1").rank_interval == (2, 3)
    assert standing(board, "close-2").rank_interval == (2, 3)
    assert [s.name for s in board.table()][0] == "top"


def test_families_are_ranked_too():
    data = simulate(
        model_means={"a1": 4.0, "a2": 4.2, "b1": 2.0},
        families={"a1": "A", "a2": "A", "b1": "B"},
        n_cases=20,
        seed=4,
    )
    board = ls.leaderboard(data, n_resamples=200, seed=0)
    family_a = standing(board, "A", kind="family")
    assert family_a.rank == 1 and family_a.rank_interval == (1, 1)
    assert family_a.mean.value == pytest.approx(data.scores[data.family == "A"].mean())
    assert [s.name for s in board.table(kind="family", dimension="safety")] == ["A", "B"]


def test_leaderboard_uses_only_the_condition_asked_for():
    data = simulate(model_means={"a": 3.0}, conditions={"full": 0.0, "no_image": -1.0}, n_cases=10, seed=5)
    full = standing(ls.leaderboard(data, n_resamples=50, seed=0), "a")
    ablated = standing(ls.leaderboard(data, condition="no_image", n_resamples=50, seed=0), "a")
    assert full.mean.value - ablated.mean.value == pytest.approx(1.0, abs=0.3)


def test_overall_needs_every_dimension():
    data = Conversations.build(
        case=["c1", "c1", "c2", "c2"],
        model=["a", "b", "a", "b"],
        family=["f", "g", "f", "g"],
        condition=["full"] * 4,
        scores=[[1, 2, 3], [3, 3, nan], [3, 4, 5], [4, 4, 4]],
        dimensions=DIMENSIONS,
    )
    board = ls.leaderboard(data, n_resamples=20, seed=0)
    assert standing(board, "b").mean.value == pytest.approx(4.0)  # only c2: (4+4+4)/3
    assert standing(board, "b").n_conversations == 1
    assert standing(board, "b", dimension="safety").mean.value == pytest.approx(3.5)


def test_leaderboard_is_deterministic_and_serialises():
    data = simulate(model_means={"a": 3.0, "b": 3.1}, n_cases=15, seed=6)
    first = ls.leaderboard(data, n_resamples=100, seed=9).as_dict()
    assert first == ls.leaderboard(data, n_resamples=100, seed=9).as_dict()
    assert first != ls.leaderboard(data, n_resamples=100, seed=10).as_dict()
    json.dumps(first)


# --- subgroups ------------------------------------------------------------------------------------------------


def test_subgroup_delta_is_subgroup_minus_rest_and_detects_an_injected_effect():
    data = simulate(model_means={"a": 3.0, "b": 3.0}, malignant_shift={"a": -1.0}, n_cases=60, seed=7)
    deltas = ls.subgroup_deltas(data, subgroup="malignant", n_resamples=500, seed=0)
    by_model = {d.model: d for d in deltas if d.dimension == "overall"}
    malignant = np.array(["malignant" in t for t in data.tags])
    rows = data.model == "a"
    expected = data.scores[rows & malignant].mean() - data.scores[rows & ~malignant].mean()
    assert by_model["a"].delta.value == pytest.approx(expected)
    assert by_model["a"].contrast == "malignant − rest"
    assert by_model["a"].delta.ci[1] < -0.5
    assert by_model[None].delta.value == pytest.approx((by_model["a"].delta.value + by_model["b"].delta.value) / 2)


def test_subgroup_by_boolean_mask():
    data = simulate(model_means={"a": 3.0}, n_cases=12, seed=8)
    mask = np.array([c < "case-006" for c in data.case])
    deltas = ls.subgroup_deltas(data, subgroup=mask, label="early", n_resamples=100, seed=0)
    assert deltas[0].contrast == "early − rest"
    with pytest.raises(ValueError, match="some but not all"):
        ls.subgroup_deltas(data, subgroup=np.ones(len(data), dtype=bool), seed=0)


# --- ablations ------------------------------------------------------------------------------------------------


def test_ablation_delta_is_paired_by_case_and_model():
    data = Conversations.build(
        case=["c1", "c1", "c2", "c2", "c3"],
        model=["a"] * 5,
        family=["f"] * 5,
        condition=["full", "no_image", "full", "no_image", "no_image"],  # c3 has no full: left out
        scores=[[4], [3], [2], [1.5], [0]],
        dimensions=["safety"],
    )
    deltas = ls.ablation_deltas(data, conditions=["no_image"], n_resamples=200, seed=0)
    model_a = next(d for d in deltas if d.model == "a")
    assert model_a.delta.value == pytest.approx(((3 - 4) + (1.5 - 2)) / 2)
    assert model_a.n_cases == 2


def test_ablation_detects_the_injected_drop_with_a_narrow_paired_interval():
    data = simulate(
        model_means={"a": 3.0, "b": 3.5},
        conditions={"full": 0.0, "no_image": 0.0, "no_ehr": 0.0},
        model_condition_shift={("a", "no_image"): -0.6},
        n_cases=50,
        case_sd=1.0,
        noise=0.2,
        seed=9,
    )
    deltas = {
        (d.contrast, d.model): d.delta
        for d in ls.ablation_deltas(data, n_resamples=800, seed=0)
        if d.dimension == "overall"
    }
    no_image_a = deltas[("no_image − full", "a")]
    assert no_image_a.ci[0] < -0.6 < no_image_a.ci[1]
    assert no_image_a.ci[1] - no_image_a.ci[0] < 0.2  # pairing removes the case effect (sd 1.0)
    assert deltas[("no_image − full", "b")].ci[0] < 0 < deltas[("no_image − full", "b")].ci[1]
    assert deltas[("no_image − full", None)].value == pytest.approx(
        (no_image_a.value + deltas[("no_image − full", "b")].value) / 2
    )
    assert deltas[("no_ehr − full", "a")].ci[0] < 0 < deltas[("no_ehr − full", "a")].ci[1]


# --- self-preference ------------------------------------------------------------------------------------------


def self_preference_data(*, injected: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_cases, model_families = 60, ["A", "A", "B", "C"]
    case, family, scores = [], [], []
    for c in range(n_cases):
        quality = rng.uniform(2, 4)
        for fam in model_families:
            judged = quality + rng.normal(0, 0.3, 4)  # four judges: of family A, B, C, D
            if fam == "A":
                judged[0] += injected
            case.append(f"case-{c}")
            family.append(fam)
            scores.append(judged)
    return np.array(scores), case, family


def test_self_preference_detects_an_injected_bias():
    scores, case, family = self_preference_data(injected=0.5)
    results = ls.self_preference(
        scores,
        judges=["judge-A", "judge-B", "judge-C", "judge-D"],
        judge_families=["A", "B", "C", "D"],
        case=case,
        family=family,
        n_resamples=800,
        seed=0,
    )
    judge_a = results[0]
    assert judge_a.preference.value == pytest.approx(0.5, abs=0.12)
    assert judge_a.preference.ci[0] > 0.3
    assert results[3].family == "D" and not results[3].preference.defined  # no model of family D
    assert "own family" in results[3].preference.undefined_reason
    json.dumps([r.as_dict() for r in results])


def test_no_self_preference_without_bias():
    scores, case, family = self_preference_data(injected=0.0, seed=1)
    results = ls.self_preference(
        scores, judges=list("ABCD"), judge_families=list("ABCD"), case=case, family=family, n_resamples=800, seed=0
    )
    for result in results[:3]:
        assert result.preference.ci[0] < 0 < result.preference.ci[1]


def test_self_preference_by_hand():
    scores = np.array([[4.0, 3.0], [2.0, 2.0], [3.0, nan]])
    results = ls.self_preference(
        scores, judges=["x", "y"], judge_families=["F", "G"], case=["1", "2", "3"], family=["F", "G", "F"], seed=0
    )
    # Judge x: own family conversations 0 and 2 (2 has no other judge): d = 4 − 3 = 1; other: 2 − 2 = 0.
    assert results[0].preference.value == pytest.approx(1.0)
    assert results[0].n_own == 1 and results[0].n_other == 1


# --- bad input ------------------------------------------------------------------------------------------------


def test_bad_input_raises_a_clear_value_error():
    good = {
        "case": ["c1", "c2"],
        "model": ["a", "a"],
        "family": ["f", "f"],
        "condition": ["full", "full"],
        "scores": [[1, 2, 3], [2, 3, 4]],
        "dimensions": DIMENSIONS,
    }
    with pytest.raises(ValueError, match="one label per conversation"):
        Conversations.build(**{**good, "case": ["c1"]})
    with pytest.raises(ValueError, match="more than one family"):
        Conversations.build(**{**good, "family": ["f", "g"]})
    with pytest.raises(ValueError, match="infinite"):
        Conversations.build(**{**good, "scores": [[1, 2, np.inf], [2, 3, 4]]})
    with pytest.raises(ValueError, match="dimensions must name"):
        Conversations.build(**{**good, "dimensions": ["safety"]})
    with pytest.raises(ValueError, match="missing label"):
        Conversations.build(**{**good, "model": ["a", None]})
    data = Conversations.build(**good)
    with pytest.raises(ValueError, match="n_resamples"):
        ls.leaderboard(data, n_resamples=1, seed=0)
    with pytest.raises(ValueError, match="no conversation has condition"):
        ls.leaderboard(data, condition="no_image", seed=0)
    with pytest.raises(ValueError, match="at least two cases"):
        ls.leaderboard(Conversations.build(**{**good, "case": ["c1", "c1"]}), seed=0)
    with pytest.raises(ValueError, match="at least two judges"):
        ls.self_preference([[1], [2]], judges=["x"], judge_families=["F"], case=["1", "2"], family=["F", "F"], seed=0)
