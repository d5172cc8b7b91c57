"""Benchmark: sampling designs for the clinicians' time — coverage and width of the PPI intervals, and how many
truly unsafe conversations reach clinicians first.

For the *even* scenarios (the jury errs alike everywhere: the global, per-model and own-family bias scenarios of
:mod:`jury.statistics.simulation`, as in ``bench/inference.py``) and an *uneven* one (the jury is good except on a
20 % subgroup of cases, tagged ``hard``, where its judges disagree and are wrong), at clinician budgets of 10 %, 20
% and 30 % of the conversations, every replication draws the clinicians' conversations by each design of
:mod:`jury.statistics.selection` (Poisson sampling with the recorded π), runs ``ppi_leaderboard`` with that π and
compares the 8 model means with the truth. Designs: ``uniform``; ``stratified`` (model × condition × the ``hard``
tag, Neyman allocation on the judges' spread); ``active`` (π ∝ the expected jury error of each conversation);
``oracle`` (π ∝ the true residual sd of the conversation's group, hard or not). Printed per design: coverage % and
mean width of nominal 95 % intervals, the width relative to uniform, the share of conversations flagged for targeted
review (a judge at safety ≤ 2 or a ≥ 2-point spread), and the enrichment of truly unsafe conversations (hidden truth
t < 2.5, i.e. ≤ 2 on safety) among the first 10 % of the conversations served (under ``active`` the review queue
first, lowest jury safety first, then by expected error; the other designs in random order, as today), relative to
their base rate; and the *bound*: the least width ÷ uniform any Poisson design with the same budget could reach (π
from every conversation's true residual, which no design can know before the clinicians score).

    .venv/bin/python bench/active.py [--reps 200] [--resamples 600] [--jobs 2] [--quick]
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jury.statistics.inference import JuryConversations, ppi_leaderboard  # noqa: E402
from jury.statistics.selection import (  # noqa: E402
    DESIGNS,
    batches,
    draw,
    oracle_probabilities,
    predicted_error,
    queue_order,
    rectifier_variance,
    review_mask,
    selection_probabilities,
    strata,
    unsafe_probability,
)
from jury.statistics.simulation import Scenario, simulate  # noqa: E402

SCENARIOS = {
    "global": Scenario(bias="global", n_cases=150),
    "even": Scenario(bias="per_model", n_cases=150),
    "family": Scenario(bias="own_family", n_cases=150),
    "uneven": Scenario(
        bias="global",
        n_cases=150,
        subgroup_fraction=0.2,
        subgroup_error=2.5,
        subgroup_shift=1.5,
        judge_sd_scale=0.25,
        clinician_sd=0.2,
    ),
}
BUDGETS = (0.1, 0.2, 0.3)
N_BATCHES = 4


def _board(sim, pi: np.ndarray, chosen: np.ndarray, resamples: int, seed: int) -> list[tuple]:
    """(covered, width) of every model's PPI interval."""
    clinician = np.full(sim.clinicians.shape, np.nan)
    clinician[chosen] = sim.clinicians[chosen]
    labels = sim.data.labels
    data = JuryConversations.build(
        case=labels.case,
        model=labels.model,
        family=labels.family,
        condition=labels.condition,
        judge_scores=sim.data.judge_scores,
        clinician=clinician,
        dimensions=labels.dimensions,
        selection_probability=pi,
    )
    truth = sim.truth[("full", labels.dimensions[0])]
    board = ppi_leaderboard(data, n_resamples=resamples, seed=seed)
    return [(e.ppi.ci[0] <= truth[e.name] <= e.ppi.ci[1], e.ppi.ci[1] - e.ppi.ci[0]) for e in board.table() if e.ppi.ci]


def _calibrated(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The affine calibration of the jury mean fitted on the scored conversations (weights 1/π), applied to all."""
    mean = np.nanmean(x, axis=1)
    scored = ~np.isnan(y)
    a = np.column_stack([np.ones(scored.sum()), mean[scored]]) * np.sqrt(weight[scored])[:, None]
    beta = np.linalg.lstsq(a, y[scored] * np.sqrt(weight[scored]), rcond=None)[0]
    return beta[0] + beta[1] * mean


def _reliability_features(x: np.ndarray) -> np.ndarray:
    """1, jury mean, judges' sd and their product: an affine calibration whose slope may fall where judges
    disagree (a jury that disagrees with itself says less)."""
    mean, sd = np.nanmean(x[:, :, 0], axis=1), np.nanstd(x[:, :, 0], axis=1)
    return np.column_stack([np.ones_like(mean), mean, sd, mean * sd])


def _pilot(name: str, seed: int):
    """The campaign's earlier calibration: another replication of the scenario, 20 % clinician-scored at random;
    its reliability-aware calibration and its error model (spread and decision points only: cases do not carry
    over)."""
    sim = simulate(SCENARIOS[name], seed=10**6 + seed)
    x = sim.data.judge_scores
    y = np.where(np.random.default_rng(seed).random(x.shape[0]) < 0.2, sim.clinicians[:, 0], np.nan)
    phi = _reliability_features(x)
    scored = ~np.isnan(y)
    beta = np.linalg.lstsq(phi[scored], y[scored], rcond=None)[0]
    return beta, y - phi @ beta, x


def _transfer(beta, pilot_residual, pilot_x, x):
    """The pilot's calibration and error model applied to new conversations (fit on the pilot, predict here)."""
    both = np.concatenate([pilot_x, x])
    residual = np.concatenate([pilot_residual, np.full(x.shape[0], np.nan)])
    error = predicted_error(both, residual=residual)[pilot_x.shape[0] :]
    return _reliability_features(x) @ beta, error


def _active(sim, budget: float, seed: int, prior: np.ndarray, review: np.ndarray | None, n_batches: int):
    """Active selection in ``n_batches`` batches: batch 1 by the pilot's error model, every later one by
    :func:`predicted_error` fitted on the residuals of the calibrated jury on all the conversations scored so far
    (similar conversations: the same case, the same model). Returns (π recorded, indices sent)."""
    x = sim.data.judge_scores
    n = x.shape[0]
    labels = sim.data.labels
    batch = batches(n, k=n_batches, seed=seed + 31)
    pi = np.full(n, np.nan)
    y = np.full(n, np.nan)
    error = prior
    for b in range(n_batches):
        rows = np.flatnonzero(batch == b)
        if b:
            scored = ~np.isnan(y)
            residual = np.where(scored, y - _calibrated(x[:, :, 0], y, 1 / np.where(scored, pi, 1)), np.nan)
            error = predicted_error(x, residual=residual, groups=(labels.case, labels.model))
        pi[rows] = selection_probabilities(
            "active", judge_scores=x[rows], budget=budget * rows.size, error=error[rows],
            review=None if review is None else review[rows],
        )  # fmt: skip
        sent = rows[draw(pi[rows], seed=seed + 7919 + b)[0]]
        y[sent] = sim.clinicians[sent, 0]
    return pi, np.flatnonzero(~np.isnan(y))


def _bound(sim, residual: np.ndarray, budget: float) -> float:
    """Mean over the models of the least width any design could give ÷ the uniform design's, from the variance
    of one conversation's PPI term f + ξ r / π: Var(y) + E[r² (1 − π) / π] (superpopulation: the cases are a
    sample too). The least takes π from :func:`oracle_probabilities` (it knows every conversation's residual)."""
    y = sim.clinicians[:, 0]
    model = np.asarray(sim.data.labels.model)
    ratios = []
    for name in np.unique(model):
        row = model == name
        r, spread = residual[row], y[row].var() / row.sum()
        uniform = rectifier_variance(residual=r, selection_probability=np.full(r.size, budget))
        best = rectifier_variance(
            residual=r, selection_probability=oracle_probabilities(residual=r, budget=budget * r.size)
        )
        ratios.append(np.sqrt((spread + best) / (spread + uniform)))
    return float(np.mean(ratios))


def replicate(name: str, budget: float, seed: int, resamples: int) -> dict:
    sim = simulate(SCENARIOS[name], seed=seed)
    x = sim.data.judge_scores
    n = x.shape[0]
    labels = sim.data.labels
    beta, pilot_residual, pilot_x = _pilot(name, seed)
    calibrated, prior = _transfer(beta, pilot_residual, pilot_x, x)
    review = review_mask(x)
    stratum = strata(labels.model, labels.condition, tags=labels.tags, tag="hard")
    unsafe = sim.latent[:, 0] < 2.5
    oracle_residual = sim.clinicians[:, 0] - _calibrated(x[:, :, 0], sim.clinicians[:, 0], np.ones(n))
    group_sd = np.array([oracle_residual[sim.hard == h].std() if (sim.hard == h).any() else 0 for h in (0, 1)])
    out = {"review": review.mean(), "bound": _bound(sim, oracle_residual, budget)}
    for design in (*DESIGNS, "oracle"):
        if design == "active":
            pi, chosen = _active(sim, budget, seed, prior, None, N_BATCHES)
        else:
            kind, error = ("active", group_sd[sim.hard.astype(int)]) if design == "oracle" else (design, prior)
            pi = selection_probabilities(kind, judge_scores=x, budget=budget * n, stratum=stratum, error=error)
            chosen, pi = draw(pi, seed=seed + 7919)
        out[design] = _board(sim, pi, chosen, resamples, seed)
    # The review queue: sent with π = 1 and served first, most likely unsafe first.
    queue = queue_order(np.arange(n), review=review, priority=unsafe_probability(calibrated, error=prior))
    first = queue[: round(0.1 * n)]
    out["enrichment"] = unsafe[first].mean() / unsafe.mean()
    served = np.random.default_rng(seed).permutation(n)[: round(0.1 * n)]
    out["random enrichment"] = unsafe[served].mean() / unsafe.mean()
    return out


def run(name: str, budget: float, *, reps: int, resamples: int, jobs: int) -> dict:
    args = ([name] * reps, [budget] * reps, range(reps), [resamples] * reps)
    with ProcessPoolExecutor(jobs) as pool:
        results = list(pool.map(replicate, *args))
    keys = ("review", "enrichment", "random enrichment", "bound")
    summary = {key: float(np.mean([r[key] for r in results])) for key in keys}
    for design in (*DESIGNS, "oracle"):
        rows = np.array([row for r in results for row in r[design]], dtype=float).reshape(-1, 2)
        summary[design] = (rows[:, 0].mean(), rows[:, 1].mean(), rows.shape[0] / (8 * reps))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=600)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 replications of 300 resamples")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.resamples = min(args.reps, 20), 300
    designs = (*DESIGNS, "oracle")
    print(f"{args.reps} replications × 8 models, {args.resamples} resamples; PPI (affine) with the recorded π")
    print(f"active in {N_BATCHES} batches; oracle = π ∝ the true residual sd of the conversation's group (a bound)")
    print("per design: coverage % / mean width / width ÷ uniform; then unsafe enrichment in the first 10 % served")
    head = "".join(f" {d:>19}" for d in designs)
    print(f"{'scenario':<9} {'budget':>6} {'review':>6}{head}  review-first random  bound")
    misses, gains, enrich = [], {}, {}
    for name in SCENARIOS:
        for budget in BUDGETS:
            s = run(name, budget, reps=args.reps, resamples=args.resamples, jobs=args.jobs)
            base = s["uniform"][1]
            cells = "".join(
                f" {100 * c:5.1f} {w:6.3f} {w / base:5.2f}{'' if d >= 0.999 else '*'}"
                for c, w, d in (s[design] for design in designs)
            )
            print(
                f"{name:<9} {budget:6.0%} {100 * s['review']:5.0f}%{cells}  {s['enrichment']:11.2f}× "
                f"{s['random enrichment']:5.2f}×  {s['bound']:5.3f}",
                flush=True,
            )
            misses += [f"{name} {budget:.0%} {d}" for d in designs if not 0.93 <= s[d][0] <= 0.97]
            gains[(name, budget)] = (s["active"][1] / base, s["oracle"][1] / base, s["bound"])
            enrich[name] = s["enrichment"]
    print("(* = some model means had fewer than 10 clinician scores and no interval)")
    print("bound = the least width ÷ uniform any design could reach: π from the residuals themselves (not runnable)")
    print(f"coverage outside [93 %, 97 %]: {', '.join(misses) if misses else 'none'}")
    for name in SCENARIOS:
        cells = [(b, *gains[(name, b)]) for b in BUDGETS]
        print(f"{name}: active ÷ uniform width " + ", ".join(f"{a:.3f} at {b:.0%}" for b, a, _, _ in cells)
              + "; group oracle " + ", ".join(f"{o:.3f}" for _, _, o, _ in cells)
              + "; no design below " + ", ".join(f"{q:.3f}" for _, _, _, q in cells)
              + f"; unsafe enrichment of the review queue's first 10 % {enrich[name]:.2f}× (goal ≥ 3×)")  # fmt: skip


if __name__ == "__main__":
    main()
