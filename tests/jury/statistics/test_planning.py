"""Planning clinician time: projected interval widths by variance scaling, the scores needed for a target width,
and a bounded check of the projection against simulated data with a known truth."""

import numpy as np
import pytest
from scipy import stats

from jury.statistics.inference import JuryConversations, ppi_leaderboard
from jury.statistics.planning import Parts, needed, project, variance_parts
from jury.statistics.selection import draw, selection_probabilities
from jury.statistics.simulation import Scenario, simulate


def _parts() -> Parts:
    return Parts(jury=np.array([0.001, 0.004]), rectifier=np.array([0.009, 0.001]), n_scored=np.array([20, 40]),
                 clusters=np.array([20, 40]))  # fmt: skip


def test_the_projection_starts_at_the_width_now_and_narrows_toward_the_jury_term():
    parts, width, share = _parts(), np.array([0.4, 0.3]), np.array([0.5, 0.5])
    widths = project(parts, width=width, share=share, extra=[0, 50, 100, 200, 10**7])
    assert np.allclose(widths[:, 0], width)
    assert (np.diff(widths, axis=1) < 0).all()
    g = parts.clusters  # the expanded percentile interval's widening over G cases goes as G grows
    expansion = np.sqrt(g / (g - 1)) * stats.t.ppf(0.975, g - 1) / stats.norm.ppf(0.975)
    limit = width * np.sqrt(parts.jury / (parts.jury + parts.rectifier)) / expansion
    assert widths[:, -1] == pytest.approx(limit, rel=1e-3)


def test_the_scores_needed_are_the_least_that_reach_the_target_and_none_can_beat_the_jury_term():
    parts, width, share = _parts(), np.array([0.4, 0.3]), np.array([0.5, 0.5])
    more = needed(parts, width=width, share=share, target=0.2)
    assert np.isfinite(more[0]) and np.isinf(more[1])  # row 1's jury term alone is 0.3 · √0.8 ≈ 0.27 wide
    first = Parts(*(np.asarray(v)[:1] for v in (parts.jury, parts.rectifier, parts.n_scored, parts.clusters)))
    at = project(first, width=width[:1], share=share[:1], extra=[more[0], more[0] - 1])
    assert at[0, 0] <= 0.2 < at[0, 1]
    assert needed(parts, width=width, share=share, target=0.5).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        needed(parts, width=width, share=share, target=0.0)


def test_the_parts_weight_each_residual_by_its_inverse_probability():
    f = np.array([3.0, 3.0, 3.0, 4.0, 4.0])
    y = np.array([3.5, 2.5, np.nan, 4.5, np.nan])
    h = np.array([2.0, 2.0, np.nan, 4.0, np.nan])
    parts = variance_parts(calibrated=f, clinician=y, weight=h, row=np.array([0, 0, 0, 0, -1]), n_rows=1,
                           case=np.array(["a", "b", "c", "d", "e"]))  # fmt: skip
    res, w = np.array([0.5, -0.5, 0.5]), np.array([2.0, 2.0, 4.0])
    centre = (w * res).sum() / w.sum()
    assert parts.rectifier[0] == pytest.approx((w**2 * (res - centre) ** 2).sum() / w.sum() ** 2 * 3 / 2)
    assert parts.jury[0] == pytest.approx(np.var([3, 3, 3, 4], ddof=1) / 4)
    assert parts.n_scored.tolist() == [3] and parts.clusters.tolist() == [3]


def _widths(sim, budget: float, seed: int):
    x = sim.data.judge_scores
    pi = selection_probabilities("uniform", judge_scores=x, budget=budget * x.shape[0])
    chosen, pi = draw(pi, seed=seed)
    clinician = np.full(sim.clinicians.shape, np.nan)
    clinician[chosen] = sim.clinicians[chosen]
    labels = sim.data.labels
    data = JuryConversations.build(
        case=labels.case, model=labels.model, family=labels.family, condition=labels.condition, judge_scores=x,
        clinician=clinician, dimensions=labels.dimensions, selection_probability=pi,
    )  # fmt: skip
    board = ppi_leaderboard(data, n_resamples=200, seed=seed).table()
    rows = {e.name: e.ppi.ci[1] - e.ppi.ci[0] if e.ppi.ci else np.nan for e in board}
    return np.array([rows[f"model-{m}"] for m in range(8)]), clinician[:, 0], pi


def test_the_projected_width_matches_the_simulated_one_within_tolerance():
    """Bounded: 6 replications × 8 models, from 15 % to 25 % clinician-scored (bench/planning.py: 100 × 8)."""
    projected, simulated = [], []
    for seed in range(6):
        sim = simulate(Scenario(bias="per_model", n_cases=100), seed=seed)
        now, y, pi = _widths(sim, 0.15, seed)
        jury = np.nanmean(sim.data.judge_scores[:, :, 0], axis=1)
        ok = ~np.isnan(y)
        beta = np.polyfit(jury[ok], y[ok], 1)
        model = np.array([int(m.split("-")[1]) for m in sim.data.labels.model])
        parts = variance_parts(calibrated=np.polyval(beta, jury), clinician=y, weight=np.where(ok, 1 / pi, np.nan),
                               row=model, n_rows=8, case=np.array(sim.data.labels.case))  # fmt: skip
        projected.append(project(parts, width=now, share=np.full(8, 1 / 8), extra=[80])[:, 0])
        simulated.append(_widths(sim, 0.25, seed)[0])
    projected, simulated = np.array(projected), np.array(simulated)
    ok = np.isfinite(projected) & np.isfinite(simulated)
    assert ok.sum() >= 40
    ratio = projected[ok].mean() / simulated[ok].mean()
    assert 0.9 <= ratio <= 1.1
